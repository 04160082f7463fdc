package io.mephisto.bench;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.RemoveMembersFromConsumerGroupOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The Kafka side of bench/compare.sh, on kafka-clients (no other tool needed):
 *
 * <pre>
 *   reset   BOOTSTRAP TOPICS PREFIXES GROUPS   delete the named topics, every topic starting with
 *                                              one of the prefixes, and the consumer groups
 *                                              (comma lists, "-" for none)
 *   create  BOOTSTRAP NAME:PARTITIONS...       create topics (retries while a delete finishes)
 *   produce BOOTSTRAP TOPIC N SEED             N words, uniform over 8 (3 colors), word i to
 *                                              partition i % partitions; prints the counts as JSON
 *   watch   BOOTSTRAP TOPIC TARGET [INTERNAL...]  every 10 ms sum the topic's high watermarks;
 *                                              prints "ready MS", "active MS" (first record in TOPIC
 *                                              or an INTERNAL topic), "first MS SUM" (in TOPIC),
 *                                              "done MS SUM" (SUM >= TARGET); MS: epoch ms
 *   verify  BOOTSTRAP TOPIC RECORDS [KEY=N...] read the topic to its end: RECORDS records, and for
 *                                              each KEY the largest value (a decimal count) is N
 *   commit-end BOOTSTRAP GROUP TOPIC           commit the topic's end offsets for GROUP (a new
 *                                              app then starts at the end, whatever it resets to)
 *   requests PID                               attach to the broker's JVM (PID) and print, per line
 *                                              read from stdin, one JSON line: the broker's request
 *                                              counts by type since it started (its JMX meters
 *                                              kafka.network RequestMetrics RequestsPerSec, summed
 *                                              over versions), and "ms": the time of the reading
 * </pre>
 *
 * and the commands of the windows and join workloads, in WorkloadTool: produce-windows,
 * produce-join, verify-windows, verify-join.
 */
public final class BenchTool {
  /** Pause between two rounds of high-watermark reads in watch (each round takes ~1-2 ms). */
  static final long POLL_MS = 10;
  static final String[] WORDS = {"red", "green", "blue", "yellow", "black", "white", "cat", "dog"};

  static Properties common(String bootstrap) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    return p;
  }

  private static List<String> list(String arg) {
    if (arg.equals("-") || arg.isEmpty()) return List.of();
    return Arrays.asList(arg.split(","));
  }

  static void reset(String bootstrap, List<String> topics, List<String> prefixes, List<String> groups)
      throws Exception {
    try (Admin admin = Admin.create(common(bootstrap))) {
      Set<String> doomed = new HashSet<>();
      for (String t : admin.listTopics().names().get()) {
        if (topics.contains(t) || prefixes.stream().anyMatch(t::startsWith)) doomed.add(t);
      }
      if (!groups.isEmpty()) {
        Set<String> existing = admin.listConsumerGroups().all().get().stream()
            .map(g -> g.groupId()).collect(Collectors.toSet());
        List<String> gone = groups.stream().filter(existing::contains).toList();
        for (String g : gone) {
          for (int attempt = 0; ; attempt++) {
            try {
              admin.deleteConsumerGroups(List.of(g)).all().get();
              break;
            } catch (ExecutionException e) {
              if (e.getCause() instanceof GroupIdNotFoundException) break;
              if (!(e.getCause() instanceof GroupNotEmptyException) || attempt >= 100) throw e;
              // members of a stopped app that left no LeaveGroup (Kafka Streams does not send
              // one on close) stay until their session times out: remove them
              try {
                admin.removeMembersFromConsumerGroup(g, new RemoveMembersFromConsumerGroupOptions()).all().get();
              } catch (ExecutionException ignored) {
                // gone meanwhile, or not removable yet: retry the delete
              }
              Thread.sleep(500);
            }
          }
        }
        System.out.println("reset: deleted groups " + gone);
      }
      if (!doomed.isEmpty()) {
        try {
          admin.deleteTopics(doomed).all().get();
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) throw e;
        }
        for (int i = 0; i < 600; i++) {  // until the metadata no longer lists them (60 s)
          Set<String> left = new HashSet<>(admin.listTopics().names().get());
          left.retainAll(doomed);
          if (left.isEmpty()) break;
          Thread.sleep(100);
        }
      }
      System.out.println("reset: deleted topics " + new TreeMap<>(doomed.stream()
          .collect(Collectors.toMap(t -> t, t -> ""))).keySet());
    }
  }

  static void create(String bootstrap, List<String> specs) throws Exception {
    try (Admin admin = Admin.create(common(bootstrap))) {
      for (String spec : specs) {
        int colon = spec.lastIndexOf(':');
        String name = spec.substring(0, colon);
        int partitions = Integer.parseInt(spec.substring(colon + 1));
        for (int attempt = 0; ; attempt++) {
          try {
            admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1))).all().get();
            break;
          } catch (ExecutionException e) {
            // a topic deleted a moment ago may still be on its way out
            if (!(e.getCause() instanceof TopicExistsException) || attempt >= 300) throw e;
            Thread.sleep(200);
          }
        }
      }
      // wait until every partition has a leader
      for (int i = 0; i < 300; i++) {
        boolean ok = true;
        try {
          var descr = admin.describeTopics(specs.stream().map(s -> s.substring(0, s.lastIndexOf(':'))).toList())
              .allTopicNames().get();
          for (var d : descr.values())
            for (var p : d.partitions()) ok &= p.leader() != null && !p.leader().isEmpty();
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) throw e;
          ok = false;  // not in the metadata yet
        }
        if (ok) break;
        Thread.sleep(100);
      }
      System.out.println("create: " + specs);
    }
    warmGroupCoordinator(bootstrap, specs.get(0).substring(0, specs.get(0).lastIndexOf(':')));
  }

  /** Commits an offset once, so that __consumer_offsets exists before the first system starts. */
  static void warmGroupCoordinator(String bootstrap, String topic) throws Exception {
    Properties p = common(bootstrap);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "colors-bench-warmup");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    TopicPartition tp = new TopicPartition(topic, 0);
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
      c.assign(List.of(tp));
      c.commitSync(Map.of(tp, new org.apache.kafka.clients.consumer.OffsetAndMetadata(0)), Duration.ofSeconds(60));
    }
    try (Admin admin = Admin.create(common(bootstrap))) {
      admin.deleteConsumerGroups(List.of("colors-bench-warmup")).all().get();
    }
  }

  /** The producer of the input: acks=all, large batches. */
  static KafkaProducer<byte[], byte[]> producer(String bootstrap) {
    Properties p = common(bootstrap);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.LINGER_MS_CONFIG, 20);
    p.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
    return new KafkaProducer<>(p);
  }

  static void produce(String bootstrap, String topic, long n, long seed) throws Exception {
    byte[][] words = new byte[WORDS.length][];
    for (int i = 0; i < WORDS.length; i++) words[i] = WORDS[i].getBytes(StandardCharsets.UTF_8);
    long[] counts = new long[WORDS.length];
    Random random = new Random(seed);
    AtomicReference<Exception> failure = new AtomicReference<>();
    long start = System.nanoTime();
    try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap)) {
      int partitions = producer.partitionsFor(topic).size();
      for (long i = 0; i < n && failure.get() == null; i++) {
        int w = random.nextInt(WORDS.length);
        counts[w]++;
        producer.send(new ProducerRecord<>(topic, (int) (i % partitions), null, words[w]),
            (md, e) -> { if (e != null) failure.compareAndSet(null, e); });
      }
      producer.flush();
    }
    if (failure.get() != null) throw failure.get();
    double secs = (System.nanoTime() - start) / 1e9;
    StringBuilder json = new StringBuilder("{\"words\": " + n + ", \"colors\": " + (counts[0] + counts[1] + counts[2]));
    for (int i = 0; i < WORDS.length; i++) json.append(", \"").append(WORDS[i]).append("\": ").append(counts[i]);
    json.append(String.format(", \"produce_seconds\": %.3f}", secs));
    System.out.println(json);
  }

  static KafkaConsumer<byte[], byte[]> consumer(String bootstrap) {
    Properties p = common(bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000);
    return new KafkaConsumer<>(p);
  }

  static List<TopicPartition> partitions(KafkaConsumer<?, ?> c, String topic) {
    List<TopicPartition> tps = new ArrayList<>();
    for (PartitionInfo pi : c.partitionsFor(topic, Duration.ofSeconds(30)))
      tps.add(new TopicPartition(topic, pi.partition()));
    return tps;
  }

  static void watch(String bootstrap, String topic, long target, List<String> activity) throws Exception {
    try (Admin admin = Admin.create(common(bootstrap))) {
      List<TopicPartition> out = topicPartitions(admin, topic);
      long base = endSum(admin, out);  // 0 on a fresh topic
      System.out.println("ready " + System.currentTimeMillis() + " " + base);
      System.out.flush();
      // topics the system writes before its output (its repartition topic); they may not exist
      // yet: looked up again on every round until they do
      List<String> pending = new ArrayList<>(activity);
      List<TopicPartition> internal = new ArrayList<>();
      boolean active = false, first = false;
      long lastReport = 0;
      while (true) {
        long now = System.currentTimeMillis();
        if (!active && !pending.isEmpty()) {
          for (var it = pending.iterator(); it.hasNext(); ) {
            List<TopicPartition> tps = topicPartitionsIfExists(admin, it.next());
            if (!tps.isEmpty()) {
              internal.addAll(tps);
              it.remove();
            }
          }
        }
        long sum = endSum(admin, out) - base;
        long internalSum = !active && !internal.isEmpty() ? endSum(admin, internal) : 0;
        now = System.currentTimeMillis();
        if (!active && (sum > 0 || internalSum > 0)) {
          System.out.println("active " + now);
          active = true;
        }
        if (!first && sum > 0) {
          System.out.println("first " + now + " " + sum);
          first = true;
        }
        if (sum >= target) {
          System.out.println("done " + now + " " + sum);
          return;
        }
        if (now - lastReport >= 5000) {
          System.out.println("progress " + now + " " + sum);
          lastReport = now;
        }
        System.out.flush();
        Thread.sleep(POLL_MS);
      }
    }
  }

  private static List<TopicPartition> topicPartitions(Admin admin, String topic) throws Exception {
    List<TopicPartition> tps = new ArrayList<>();
    for (var p : admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions())
      tps.add(new TopicPartition(topic, p.partition()));
    return tps;
  }

  private static List<TopicPartition> topicPartitionsIfExists(Admin admin, String topic) throws Exception {
    try {
      return topicPartitions(admin, topic);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof UnknownTopicOrPartitionException) return List.of();
      throw e;
    }
  }

  private static long endSum(Admin admin, List<TopicPartition> tps) throws Exception {
    Map<TopicPartition, org.apache.kafka.clients.admin.OffsetSpec> spec = new java.util.HashMap<>();
    for (TopicPartition tp : tps) spec.put(tp, org.apache.kafka.clients.admin.OffsetSpec.latest());
    return admin.listOffsets(spec).all().get().values().stream().mapToLong(r -> r.offset()).sum();
  }

  static int verify(String bootstrap, String topic, long records, Map<String, Long> expected) {
    try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
      List<TopicPartition> tps = partitions(c, topic);
      c.assign(tps);
      c.seekToBeginning(tps);
      Map<TopicPartition, Long> end = c.endOffsets(tps);
      long n = 0;
      long bad = 0;
      Map<String, Long> max = new TreeMap<>();
      Set<TopicPartition> open = new HashSet<>(tps);
      open.removeIf(tp -> end.get(tp) == 0);
      long deadline = System.currentTimeMillis() + 120_000;
      while (!open.isEmpty() && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
          n++;
          if (!expected.isEmpty()) {
            String key = r.key() == null ? "<null>" : new String(r.key(), StandardCharsets.UTF_8);
            try {
              long v = Long.parseLong(new String(r.value(), StandardCharsets.UTF_8).trim());
              max.merge(key, v, Math::max);
            } catch (RuntimeException e) {
              bad++;
            }
          }
        }
        open.removeIf(tp -> c.position(tp) >= end.get(tp));
      }
      boolean ok = open.isEmpty() && n == records && bad == 0 && (expected.isEmpty() || max.equals(expected));
      System.out.println("{\"ok\": " + ok + ", \"records\": " + n + ", \"expected_records\": " + records
          + ", \"undecodable\": " + bad + ", \"final_counts\": \"" + max + "\", \"expected_counts\": \""
          + new TreeMap<>(expected) + "\"}");
      return ok ? 0 : 2;
    }
  }

  static void commitEnd(String bootstrap, String group, String topic) throws Exception {
    Properties p = common(bootstrap);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
      List<TopicPartition> tps = partitions(c, topic);
      Map<TopicPartition, org.apache.kafka.clients.consumer.OffsetAndMetadata> offsets = new java.util.HashMap<>();
      for (var e : c.endOffsets(tps).entrySet())
        offsets.put(e.getKey(), new org.apache.kafka.clients.consumer.OffsetAndMetadata(e.getValue()));
      c.commitSync(offsets, Duration.ofSeconds(60));
      System.out.println("commit-end: " + group + " at the end of " + topic);
    }
  }

  static void requests(String pid) throws Exception {
    var vm = com.sun.tools.attach.VirtualMachine.attach(pid);
    String address = vm.startLocalManagementAgent();
    vm.detach();
    try (var connector = javax.management.remote.JMXConnectorFactory.connect(
             new javax.management.remote.JMXServiceURL(address))) {
      var server = connector.getMBeanServerConnection();
      var pattern = new javax.management.ObjectName(
          "kafka.network:type=RequestMetrics,name=RequestsPerSec,*");
      var in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in));
      while (in.readLine() != null) {
        Map<String, Long> counts = new TreeMap<>();
        for (var name : server.queryNames(pattern, null)) {
          long n = ((Number) server.getAttribute(name, "Count")).longValue();
          counts.merge(name.getKeyProperty("request"), n, Long::sum);
        }
        StringBuilder json = new StringBuilder("{\"ms\": " + System.currentTimeMillis());
        for (var e : counts.entrySet())
          json.append(", \"").append(e.getKey()).append("\": ").append(e.getValue());
        System.out.println(json.append("}"));
        System.out.flush();
      }
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length == 2 && args[0].equals("requests")) {
      requests(args[1]);
      return;
    }
    if (args.length < 2) {
      System.err.println("usage: BenchTool reset|create|produce|watch|verify|produce-windows|produce-join"
          + "|verify-windows|verify-join BOOTSTRAP ...");
      System.exit(64);
    }
    if (WorkloadTool.main(args)) return;
    String bootstrap = args[1];
    switch (args[0]) {
      case "reset" -> reset(bootstrap, list(args[2]), list(args[3]), list(args[4]));
      case "create" -> create(bootstrap, Arrays.asList(args).subList(2, args.length));
      case "produce" -> produce(bootstrap, args[2], Long.parseLong(args[3]), Long.parseLong(args[4]));
      case "commit-end" -> commitEnd(bootstrap, args[2], args[3]);
      case "watch" -> watch(bootstrap, args[2], Long.parseLong(args[3]),
                            Arrays.asList(args).subList(4, args.length));
      case "verify" -> {
        Map<String, Long> expected = new TreeMap<>();
        for (int i = 4; i < args.length; i++) {
          String[] kv = args[i].split("=", 2);
          expected.put(kv[0], Long.parseLong(kv[1]));
        }
        System.exit(verify(bootstrap, args[2], Long.parseLong(args[3]), expected));
      }
      default -> {
        System.err.println("BenchTool: unknown command " + args[0]);
        System.exit(64);
      }
    }
  }
}
