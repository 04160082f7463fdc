package io.mephisto.bench;

import java.util.Properties;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.ValueJoiner;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * The "join" workload of bench/compare.sh in Kafka Streams: a stream-table inner join, the
 * peer of Mephisto's {@code mephisto-stream-ops} with WORKLOAD=join.
 *
 * <p>TABLE_TOPIC (users: key {@code u<i>}, value a country {@code c<n>}) -> a table in the
 * in-memory store {@code users}; STREAM_TOPIC (clicks: key a user, value a page {@code p<n>})
 * joined with it on the key -> OUTPUT_TOPIC: key = the user, value = {@code <page>,<country>}.
 * Clicks whose user is not in the table are dropped (inner join). With JOIN=table the table is
 * a KTable: partitioned like the clicks (both topics have the same partition count and keys
 * partitioned by Kafka's default partitioner), logged to {@code <APP_ID>-users-changelog}
 * (Streams' default, without topology optimization, for a source table). With JOIN=global it
 * is a GlobalKTable: every instance reads all of TABLE_TOPIC before processing (no changelog,
 * the topic itself restores it). BenchTool produce-join writes the table before the clicks and
 * with earlier timestamps: a task processes its partitions' records in timestamp order and,
 * with max.task.idle.ms 0 (the default), waits for a partition it knows to have unfetched
 * records, so every click meets its user in the table.
 *
 * <p>Environment: BOOTSTRAP (host:port), APP_ID, OUTPUT_TOPIC; optional STREAM_TOPIC (clicks),
 * TABLE_TOPIC (users), JOIN (table | global; table), STATE_DIR, STREAM_THREADS,
 * COMMIT_INTERVAL_MS (see StreamsPeer).
 *
 * <p>The record cache is off (statestore.cache.max.bytes=0) as in ColorsStreams, so that every
 * table update is in the store when the next click arrives and the output is not held back.
 * SIGTERM closes the topology cleanly (shutdown hook).
 */
public final class JoinStreams {
  static Topology topology(String streamTopic, String tableTopic, String output, boolean global) {
    StreamsBuilder builder = new StreamsBuilder();
    Consumed<String, String> strings = Consumed.with(Serdes.String(), Serdes.String());
    Materialized<String, String, KeyValueStore<Bytes, byte[]>> store =
        Materialized.<String, String>as(Stores.inMemoryKeyValueStore("users"))
            .withKeySerde(Serdes.String()).withValueSerde(Serdes.String());
    ValueJoiner<String, String, String> joiner = (click, country) -> click + "," + country;
    KStream<String, String> clicks = builder.stream(streamTopic, strings);
    KStream<String, String> joined;
    if (global) {
      GlobalKTable<String, String> users = builder.globalTable(tableTopic, strings, store);
      joined = clicks.join(users, (user, click) -> user, joiner);
    } else {
      KTable<String, String> users = builder.table(tableTopic, strings, store);
      joined = clicks.join(users, joiner, Joined.with(Serdes.String(), Serdes.String(), Serdes.String()));
    }
    joined.to(output, Produced.with(Serdes.String(), Serdes.String()));
    return builder.build();
  }

  public static void main(String[] args) throws Exception {
    String join = StreamsPeer.env("JOIN", "table");
    if (!join.equals("table") && !join.equals("global"))
      throw new IllegalArgumentException("JOIN must be table or global, not " + join);
    Properties props = StreamsPeer.props("join-kstreams", "join-streams");
    props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
    Topology topology = topology(StreamsPeer.env("STREAM_TOPIC", "clicks"), StreamsPeer.env("TABLE_TOPIC", "users"),
                                 StreamsPeer.env("OUTPUT_TOPIC", null), join.equals("global"));
    StreamsPeer.run(topology, props, "join-streams");
  }
}
