package io.mephisto.bench;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * The Kafka Streams side of bench/restore_compare.sh: how fast Kafka Streams restores a count
 * table whose local state is gone, against Mephisto's restore of an equal changelog
 * (mephisto-bench --restore-scale).
 *
 * <p>It writes the changelog of a count table {@code counts} ({@code <APP_ID>-counts-changelog},
 * one partition, not compacted, as Mephisto's bench writes its own): KEYS keys
 * {@code user-%010d}, each counted 1, then 2, then 3, each pass in another order of the keys
 * (the same as Mephisto's bench) (Streams' Long serde, 8 bytes; Mephisto's
 * is the decimal text). Then it starts the table's app (input {@code <APP_ID>-input}, empty,
 * {@code groupByKey().count()}) on an empty state folder, so Streams restores the whole
 * changelog, and prints one JSON line: the records restored, the restore's own time (its
 * StateRestoreListener's start to end) and records/s, and the time from start() until an
 * interactive query of the last key answers 3 (serving again).
 *
 * <p>Environment: BOOTSTRAP (host:port), KEYS (1000000), STORE (rocksdb | memory; rocksdb),
 * APP_ID (restore-kstreams-PID), STATE_DIR (a fresh temp folder).
 */
public final class RestoreStreams {
  private RestoreStreams() {}

  static byte[] key(long i) {
    return String.format("user-%010d", i).getBytes(StandardCharsets.UTF_8);
  }

  /** The key of the i-th record of pass `count`: each pass a permutation, as Mephisto's bench writes. */
  static long keyIndex(long i, long count, long keys) {
    return Long.remainderUnsigned(i * 2654435761L + count * 7919L, keys);
  }

  static void writeChangelog(String bootstrap, String input, String changelog, long keys) throws Exception {
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      admin.createTopics(List.of(new NewTopic(input, 1, (short) 1),
          new NewTopic(changelog, 1, (short) 1).configs(Map.of("cleanup.policy", "delete")))).all().get();
    }
    Properties pp = new Properties();
    pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    pp.put(ProducerConfig.LINGER_MS_CONFIG, 5);
    pp.put(ProducerConfig.BATCH_SIZE_CONFIG, 1_000_000);
    pp.put(ProducerConfig.BUFFER_MEMORY_CONFIG, 256L << 20);
    try (KafkaProducer<byte[], byte[]> producer =
             new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer())) {
      for (long count = 1; count <= 3; count++) {
        byte[] value = ByteBuffer.allocate(8).putLong(count).array();
        for (long i = 0; i < keys; i++)
          producer.send(new ProducerRecord<>(changelog, 0, key(keyIndex(i, count, keys)), value));
      }
      producer.flush();
    }
  }

  public static void main(String[] args) throws Exception {
    String bootstrap = StreamsPeer.env("BOOTSTRAP", null);
    long keys = Long.parseLong(StreamsPeer.env("KEYS", "1000000"));
    boolean inMemory = StreamsPeer.env("STORE", "rocksdb").equals("memory");
    String appId = StreamsPeer.env("APP_ID", "restore-kstreams-" + ProcessHandle.current().pid());
    String input = appId + "-input";
    writeChangelog(bootstrap, input, appId + "-counts-changelog", keys);

    Properties props = StreamsPeer.props(appId, "restore-streams");
    props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
    StreamsBuilder builder = new StreamsBuilder();
    var store = inMemory
        ? Materialized.<String, Long>as(Stores.inMemoryKeyValueStore("counts"))
        : Materialized.<String, Long, org.apache.kafka.streams.state.KeyValueStore<org.apache.kafka.common.utils.Bytes, byte[]>>as("counts");
    builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
        .groupByKey()
        .count(store.withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()));

    AtomicLong restored = new AtomicLong();
    AtomicLong restoreStart = new AtomicLong();
    AtomicLong restoreEnd = new AtomicLong();
    KafkaStreams streams = new KafkaStreams(builder.build(), props);
    streams.setGlobalStateRestoreListener(new StateRestoreListener() {
      @Override
      public void onRestoreStart(TopicPartition tp, String name, long start, long end) {
        restoreStart.compareAndSet(0, System.nanoTime());
      }

      @Override
      public void onBatchRestored(TopicPartition tp, String name, long batchEnd, long n) {}

      @Override
      public void onRestoreEnd(TopicPartition tp, String name, long total) {
        restored.addAndGet(total);
        restoreEnd.set(System.nanoTime());
      }
    });
    long started = System.nanoTime();
    streams.start();
    String lastKey = new String(key(keys - 1), StandardCharsets.UTF_8);
    long deadline = started + TimeUnit.MINUTES.toNanos(30);
    Long answer = null;
    while (answer == null && System.nanoTime() < deadline) {
      if (streams.state() == KafkaStreams.State.ERROR) throw new IllegalStateException("Kafka Streams went to ERROR");
      try {
        ReadOnlyKeyValueStore<String, Long> view = streams.store(
            StoreQueryParameters.fromNameAndType("counts", QueryableStoreTypes.keyValueStore()));
        answer = view.get(lastKey);
      } catch (InvalidStateStoreException restoring) {
        // not serving yet
      }
      if (answer == null) Thread.sleep(5);
    }
    long serving = System.nanoTime();
    streams.close();
    streams.cleanUp();
    if (answer == null || answer != 3) throw new IllegalStateException("the restored table answered " + answer + " for " + lastKey);
    double restoreS = (restoreEnd.get() - restoreStart.get()) / 1e9;
    double servingS = (serving - started) / 1e9;
    System.out.printf("{\"keys\":%d,\"store\":\"%s\",\"records\":%d,\"restore_s\":%.3f,\"records_per_s\":%.0f,"
            + "\"serving_s\":%.3f}%n",
        keys, inMemory ? "memory" : "rocksdb", restored.get(), restoreS, restored.get() / restoreS, servingS);
  }
}
