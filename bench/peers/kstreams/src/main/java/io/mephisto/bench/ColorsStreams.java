package io.mephisto.bench;

import java.util.Properties;
import java.util.Set;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.state.Stores;

/**
 * The colors pipeline in Kafka Streams, the peer of Mephisto's apps/colors in bench/compare.sh.
 *
 * <p>input (words, null keys) -> keep red/green/blue -> key by the color -> repartition topic
 * {@code <APP_ID>-colors-repartition} (8 partitions) -> count per color in the state store
 * {@code colors-count} (changelog {@code <APP_ID>-colors-count-changelog}) -> every running
 * count to OUTPUT_TOPIC as key = color, value = the decimal count as a string.
 *
 * <p>Environment: BOOTSTRAP (host:port), APP_ID, OUTPUT_TOPIC; optional INPUT_TOPIC (input),
 * STATE_DIR (a fresh temp folder), STREAM_THREADS (1, Streams' default), COMMIT_INTERVAL_MS
 * (Streams' default: 30000 with at_least_once), STORE (memory | rocksdb; memory, like Faust's
 * and Mephisto's default tables), LINGER_MS (the producer's linger.ms; Streams' default: 100).
 *
 * <p>The record cache is off (statestore.cache.max.bytes=0) so that every update is forwarded,
 * as Faust and Mephisto do; with the cache on, Streams would only emit the latest count per
 * color at each commit. SIGTERM closes the topology cleanly (shutdown hook; see StreamsPeer).
 */
public final class ColorsStreams {
  private static final Set<String> COLORS = Set.of("red", "green", "blue");

  static Topology topology(String input, String output, boolean inMemory) {
    StreamsBuilder builder = new StreamsBuilder();
    Materialized<String, Long, org.apache.kafka.streams.state.KeyValueStore<org.apache.kafka.common.utils.Bytes, byte[]>> store =
        inMemory
            ? Materialized.<String, Long>as(Stores.inMemoryKeyValueStore("colors-count"))
            : Materialized.as("colors-count");
    builder.stream(input, Consumed.with(Serdes.ByteArray(), Serdes.String()))
        .filter((key, word) -> word != null && COLORS.contains(word))
        .selectKey((key, color) -> color)
        .repartition(Repartitioned.with(Serdes.String(), Serdes.String())
            .withName("colors")
            .withNumberOfPartitions(8))
        .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
        .count(store.withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
        .toStream()
        .mapValues(count -> Long.toString(count))
        .to(output, Produced.with(Serdes.String(), Serdes.String()));
    return builder.build();
  }

  public static void main(String[] args) throws Exception {
    Properties props = StreamsPeer.props("colors-kstreams", "colors-streams");
    props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
    String linger = System.getenv("LINGER_MS");
    if (linger != null && !linger.isEmpty())
      props.put(StreamsConfig.producerPrefix("linger.ms"), Integer.parseInt(linger));

    Topology topology = topology(StreamsPeer.env("INPUT_TOPIC", "input"), StreamsPeer.env("OUTPUT_TOPIC", null),
                                 !StreamsPeer.env("STORE", "memory").equals("rocksdb"));
    StreamsPeer.run(topology, props, "colors-streams");
  }
}
