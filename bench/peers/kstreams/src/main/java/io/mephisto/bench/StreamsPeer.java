package io.mephisto.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;

/**
 * What the Kafka Streams peers of bench/compare.sh (ColorsStreams, WindowCountStreams,
 * JoinStreams) share: their environment, the common Streams settings and the run until SIGTERM.
 *
 * <p>Common environment: BOOTSTRAP (host:port, required), APP_ID, STATE_DIR (a fresh temp
 * folder when unset), STREAM_THREADS (1, Streams' default), COMMIT_INTERVAL_MS (Streams'
 * default: 30000 with at_least_once). Every peer runs at_least_once and reads its input from
 * the earliest offset.
 */
final class StreamsPeer {
  private StreamsPeer() {}

  /** The variable's value, or the fallback when it is unset or empty (required if null). */
  static String env(String name, String fallback) {
    String v = System.getenv(name);
    if (v != null && !v.isEmpty()) return v;
    if (fallback == null) throw new IllegalArgumentException("environment variable " + name + " is required");
    return fallback;
  }

  /** The settings every peer uses; tempPrefix names the state folder made when STATE_DIR is unset. */
  static Properties props(String defaultAppId, String tempPrefix) throws Exception {
    String stateDir = System.getenv("STATE_DIR");
    if (stateDir == null || stateDir.isEmpty())
      stateDir = Files.createTempDirectory(tempPrefix).toString();
    else
      Files.createDirectories(Path.of(stateDir));

    Properties props = new Properties();
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, env("BOOTSTRAP", null));
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, env("APP_ID", defaultAppId));
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(env("STREAM_THREADS", "1")));
    String commit = System.getenv("COMMIT_INTERVAL_MS");
    if (commit != null && !commit.isEmpty())
      props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.parseLong(commit));
    props.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
    return props;
  }

  /**
   * Runs the topology until SIGTERM (a shutdown hook closes it cleanly) or until Streams stops
   * by itself; exits with 1 if it went to ERROR.
   */
  static void run(Topology topology, Properties props, String name) throws InterruptedException {
    KafkaStreams streams = new KafkaStreams(topology, props);
    CountDownLatch stopped = new CountDownLatch(1);
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) stopped.countDown();
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close();
      stopped.countDown();
    }, name + "-shutdown"));
    streams.start();
    stopped.await();
    if (streams.state() == KafkaStreams.State.ERROR) {
      System.err.println(name + ": Kafka Streams went to ERROR");
      streams.close();
      System.exit(1);
    }
  }
}
