package io.mephisto.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
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
 * color at each commit. SIGTERM closes the topology cleanly (shutdown hook).
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

  private static String env(String name, String fallback) {
    String v = System.getenv(name);
    if (v != null && !v.isEmpty()) return v;
    if (fallback == null) throw new IllegalArgumentException("environment variable " + name + " is required");
    return fallback;
  }

  public static void main(String[] args) throws Exception {
    String stateDir = System.getenv("STATE_DIR");
    if (stateDir == null || stateDir.isEmpty())
      stateDir = Files.createTempDirectory("colors-streams").toString();
    else
      Files.createDirectories(Path.of(stateDir));

    Properties props = new Properties();
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, env("BOOTSTRAP", null));
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, env("APP_ID", "colors-kstreams"));
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(env("STREAM_THREADS", "1")));
    String commit = System.getenv("COMMIT_INTERVAL_MS");
    if (commit != null && !commit.isEmpty())
      props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.parseLong(commit));
    props.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
    String linger = System.getenv("LINGER_MS");
    if (linger != null && !linger.isEmpty())
      props.put(StreamsConfig.producerPrefix("linger.ms"), Integer.parseInt(linger));

    Topology topology = topology(env("INPUT_TOPIC", "input"), env("OUTPUT_TOPIC", null),
                                 !env("STORE", "memory").equals("rocksdb"));
    KafkaStreams streams = new KafkaStreams(topology, props);
    CountDownLatch stopped = new CountDownLatch(1);
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) stopped.countDown();
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close();
      stopped.countDown();
    }, "colors-streams-shutdown"));
    streams.start();
    stopped.await();
    if (streams.state() == KafkaStreams.State.ERROR) {
      System.err.println("colors-streams: Kafka Streams went to ERROR");
      streams.close();
      System.exit(1);
    }
  }
}
