package io.mephisto.bench;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * BenchTool's commands for the windows and join workloads of bench/compare.sh (BenchTool's
 * main dispatches to them):
 *
 * <pre>
 *   produce-windows BOOTSTRAP TOPIC N KEYS SPAN_MS SEED
 *       N events, key k&lt;random.nextInt(KEYS)&gt;, value "1", timestamps t0 + i * SPAN_MS / N
 *       (t0: the current minute minus 2 hours), partitioned by key; then one record per
 *       partition, key __flush-&lt;p&gt;, at t0 + SPAN_MS + 10 min, which closes every window of
 *       the events in that partition (grace 0). Prints JSON with "windows": the number of
 *       distinct (key, 1-minute window) pairs of the events, the emit-final records expected
 *   produce-join BOOTSTRAP TABLE_TOPIC STREAM_TOPIC N KEYS SEED
 *       the table, u&lt;i&gt; -&gt; c&lt;i % 50&gt; for i &lt; KEYS at t0, then N clicks,
 *       u&lt;random.nextInt(KEYS)&gt; -&gt; p&lt;i % 1000&gt; at t0 + 1000 + i ms, partitioned by key
 *   verify-windows BOOTSTRAP TOPIC RECORDS EVENTS
 *       RECORDS records with distinct keys &lt;key&gt;@&lt;ms&gt; (no __flush key) whose decimal
 *       values sum to EVENTS
 *   verify-join BOOTSTRAP TOPIC RECORDS
 *       RECORDS records, each u&lt;i&gt; -&gt; p&lt;n&gt;,c&lt;i % 50&gt;
 * </pre>
 *
 * The verify commands print one JSON line ("ok", "records", ..., "error" when not ok) and
 * return 0 if ok, 1 if not. The random keys come from java.util.Random(SEED).
 */
final class WorkloadTool {
  private WorkloadTool() {}

  static final long MINUTE_MS = 60_000;
  private static final byte[] ONE = bytes("1");

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** The current minute minus 2 hours: recent, so that the broker's retention keeps it all. */
  static long recentT0() {
    long now = System.currentTimeMillis();
    return now - now % MINUTE_MS - 2 * 60 * MINUTE_MS;
  }

  static void produceWindows(String bootstrap, String topic, long n, int keys, long spanMs, long seed)
      throws Exception {
    long t0 = recentT0();
    long slots = spanMs / MINUTE_MS + 1;  // windows per key the events can fall in
    if (keys * slots > Integer.MAX_VALUE) throw new IllegalArgumentException("KEYS * windows too large");
    BitSet seen = new BitSet((int) (keys * slots));
    byte[][] keyBytes = new byte[keys][];
    for (int k = 0; k < keys; k++) keyBytes[k] = bytes("k" + k);
    Random random = new Random(seed);
    AtomicReference<Exception> failure = new AtomicReference<>();
    Callback check = (md, e) -> { if (e != null) failure.compareAndSet(null, e); };
    int partitions;
    long start = System.nanoTime();
    try (KafkaProducer<byte[], byte[]> producer = BenchTool.producer(bootstrap)) {
      partitions = producer.partitionsFor(topic).size();
      for (long i = 0; i < n && failure.get() == null; i++) {
        int k = random.nextInt(keys);
        long offset = i * spanMs / n;
        seen.set((int) (k * slots + offset / MINUTE_MS));
        producer.send(new ProducerRecord<>(topic, null, t0 + offset, keyBytes[k], ONE), check);
      }
      producer.flush();
      for (int p = 0; p < partitions; p++)
        producer.send(new ProducerRecord<>(topic, p, t0 + spanMs + 10 * MINUTE_MS, bytes("__flush-" + p), ONE), check);
      producer.flush();
    }
    if (failure.get() != null) throw failure.get();
    double secs = (System.nanoTime() - start) / 1e9;
    System.out.println(String.format("{\"events\": %d, \"keys\": %d, \"windows\": %d, \"t0\": %d, \"span_ms\": %d, "
        + "\"flush_records\": %d, \"produce_seconds\": %.3f}", n, keys, seen.cardinality(), t0, spanMs, partitions, secs));
  }

  static void produceJoin(String bootstrap, String tableTopic, String streamTopic, long n, int keys, long seed)
      throws Exception {
    long t0 = recentT0();
    byte[][] users = new byte[keys][];
    for (int k = 0; k < keys; k++) users[k] = bytes("u" + k);
    byte[][] pages = new byte[1000][];
    for (int i = 0; i < pages.length; i++) pages[i] = bytes("p" + i);
    Random random = new Random(seed);
    AtomicReference<Exception> failure = new AtomicReference<>();
    Callback check = (md, e) -> { if (e != null) failure.compareAndSet(null, e); };
    long start = System.nanoTime();
    try (KafkaProducer<byte[], byte[]> producer = BenchTool.producer(bootstrap)) {
      for (int k = 0; k < keys && failure.get() == null; k++)
        producer.send(new ProducerRecord<>(tableTopic, null, t0, users[k], bytes("c" + (k % 50))), check);
      producer.flush();
      for (long i = 0; i < n && failure.get() == null; i++)
        producer.send(new ProducerRecord<>(streamTopic, null, t0 + 1000 + i, users[random.nextInt(keys)],
                                           pages[(int) (i % 1000)]), check);
      producer.flush();
    }
    if (failure.get() != null) throw failure.get();
    double secs = (System.nanoTime() - start) / 1e9;
    System.out.println(String.format("{\"events\": %d, \"keys\": %d, \"t0\": %d, \"produce_seconds\": %.3f}",
                                     n, keys, t0, secs));
  }

  /** Reads the topic from its beginning to its current end; false if that took over 120 s. */
  private static boolean readAll(String bootstrap, String topic, BiConsumer<String, String> each) {
    try (KafkaConsumer<byte[], byte[]> c = BenchTool.consumer(bootstrap)) {
      List<TopicPartition> tps = BenchTool.partitions(c, topic);
      c.assign(tps);
      c.seekToBeginning(tps);
      Map<TopicPartition, Long> end = c.endOffsets(tps);
      Set<TopicPartition> open = new HashSet<>(tps);
      open.removeIf(tp -> end.get(tp) == 0);
      long deadline = System.currentTimeMillis() + 120_000;
      while (!open.isEmpty() && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200)))
          each.accept(r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8),
                      r.value() == null ? null : new String(r.value(), StandardCharsets.UTF_8));
        open.removeIf(tp -> c.position(tp) >= end.get(tp));
      }
      return open.isEmpty();
    }
  }

  /** The first problem found while reading, and how many records had one. */
  private static final class Problems {
    long count;
    String first;

    void add(String what) {
      if (count++ == 0) first = what;
    }
  }

  private static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char ch : s.toCharArray()) {
      if (ch == '"' || ch == '\\') b.append('\\').append(ch);
      else if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch));
      else b.append(ch);
    }
    return b.append('"').toString();
  }

  private static String show(String key, String value) {
    return (key == null ? "<null>" : key) + " -> " + (value == null ? "<null>" : value);
  }

  private static boolean decimal(String s) {
    if (s.isEmpty() || s.length() > 18) return false;
    for (int i = 0; i < s.length(); i++)
      if (s.charAt(i) < '0' || s.charAt(i) > '9') return false;
    return true;
  }

  static int verifyWindows(String bootstrap, String topic, long records, long events) {
    long[] n = {0}, sum = {0};
    Set<String> keys = new HashSet<>();
    Problems duplicate = new Problems(), flush = new Problems(), malformed = new Problems();
    boolean complete = readAll(bootstrap, topic, (key, value) -> {
      n[0]++;
      int at = key == null ? -1 : key.lastIndexOf('@');
      if (key != null && key.startsWith("__flush")) flush.add(show(key, value));
      else if (at <= 0 || !decimal(key.substring(at + 1)) || value == null || !decimal(value.trim()))
        malformed.add(show(key, value));
      else
        sum[0] += Long.parseLong(value.trim());
      if (key != null && !keys.add(key)) duplicate.add(show(key, value));
    });
    String error = !complete ? "could not read the topic to its end in 120 s"
        : n[0] != records ? n[0] + " records, expected " + records
        : flush.count > 0 ? flush.count + " __flush records, e.g. " + flush.first
        : malformed.count > 0 ? malformed.count + " records not <key>@<ms> -> <count>, e.g. " + malformed.first
        : duplicate.count > 0 ? duplicate.count + " repeated keys, e.g. " + duplicate.first
        : sum[0] != events ? "the counts sum to " + sum[0] + ", expected " + events
        : null;
    System.out.println("{\"ok\": " + (error == null) + ", \"records\": " + n[0] + ", \"expected_records\": " + records
        + ", \"distinct_keys\": " + keys.size() + ", \"sum\": " + sum[0] + ", \"expected_sum\": " + events
        + ", \"flush_records\": " + flush.count + ", \"malformed\": " + malformed.count
        + (error == null ? "" : ", \"error\": " + quote(error)) + "}");
    return error == null ? 0 : 1;
  }

  static int verifyJoin(String bootstrap, String topic, long records) {
    long[] n = {0};
    Problems bad = new Problems();
    boolean complete = readAll(bootstrap, topic, (key, value) -> {
      n[0]++;
      boolean ok = false;
      if (key != null && value != null && key.startsWith("u") && decimal(key.substring(1))) {
        String country = ",c" + (Long.parseLong(key.substring(1)) % 50);
        ok = value.startsWith("p") && value.endsWith(country)
            && decimal(value.substring(1, value.length() - country.length()));
      }
      if (!ok) bad.add(show(key, value));
    });
    String error = !complete ? "could not read the topic to its end in 120 s"
        : n[0] != records ? n[0] + " records, expected " + records
        : bad.count > 0 ? bad.count + " records not u<i> -> p<n>,c<i % 50>, e.g. " + bad.first
        : null;
    System.out.println("{\"ok\": " + (error == null) + ", \"records\": " + n[0] + ", \"expected_records\": " + records
        + ", \"bad\": " + bad.count + (bad.first == null ? "" : ", \"example\": " + quote(bad.first))
        + (error == null ? "" : ", \"error\": " + quote(error)) + "}");
    return error == null ? 0 : 1;
  }

  /** Runs a command of this class; false if the name is not one of them. */
  static boolean main(String[] args) throws Exception {
    switch (args[0]) {
      case "produce-windows" -> produceWindows(args[1], args[2], Long.parseLong(args[3]), Integer.parseInt(args[4]),
                                               Long.parseLong(args[5]), Long.parseLong(args[6]));
      case "produce-join" -> produceJoin(args[1], args[2], args[3], Long.parseLong(args[4]), Integer.parseInt(args[5]),
                                         Long.parseLong(args[6]));
      case "verify-windows" -> System.exit(verifyWindows(args[1], args[2], Long.parseLong(args[3]), Long.parseLong(args[4])));
      case "verify-join" -> System.exit(verifyJoin(args[1], args[2], Long.parseLong(args[3])));
      default -> { return false; }
    }
    return true;
  }
}
