// mephisto-bench: the colors pipeline against the raw librdkafka limit, side by side,
// on the embedded broker, on the same pre-produced input.
//
//   mephisto-bench [--words 600000] [--rounds 3] [--threads 2]
//
// (a) raw: one librdkafka consumer reads `input` and produces every record to
//     `raw_output` (no actors, no table): the pass-through limit of this machine.
// (b) mephisto: the colors app (filter -> colors_topic -> count in a table -> output),
//     timed from the partition assignment to the moment its last output record is in
//     Kafka (output high watermarks).
// Rounds alternate (a) and (b); the machine is shared and noisy, so compare within one run.
// The mock keeps only ~5 MiB per partition: keep --words at or below 8 x 80k.
// Other modes, each described at its function: --latency, --restore, --exactly-once,
// --lookups, and --failover (failover.cpp: the pause after kill -9 of a worker process).

#include <algorithm>
#include <filesystem>
#include <atomic>
#include <memory>
#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "colors_app.hpp"
#include "mephisto/actors/env.hpp"
#include "mephisto/kafka/admin.hpp"
#include "mephisto/kafka/config.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/log.hpp"
#include "mephisto/store.hpp"
#include "mephisto/kafka/changelog_restore.hpp"
#include "mephisto/rocksdb_store.hpp"
#include "mephisto/worker.hpp"
#include "actor_api_bench.hpp"
#include "bench_kit.hpp"
#include "failover.hpp"

using namespace std::chrono;
using namespace bench;

namespace {

constexpr int32_t partitions = 8;

/// The topics the colors app needs as app id `id`, all with the benchmark's partitions.
std::vector<mephisto::kafka::topic_spec> colors_topics(const std::string& id) {
  mephisto::app app{"colors"};
  colors::declare(app);
  mephisto::worker_options opts;
  opts.id = id;
  auto specs = app.resolve(opts)->topic_specs(partitions);
  for (auto& spec : specs) {
    spec.partitions = partitions;
    spec.create = true; // a benchmark may create the source topics too
  }
  return specs;
}

/// Starts the colors app as app id `id` on `url` and waits until it has partitions.
std::unique_ptr<mephisto::worker> start_colors(const std::string& url, const std::string& id,
                                               int threads, int linger_ms = 5,
                                               const std::string& guarantee = "at_least_once",
                                               const std::string& seeds = "") {
  mephisto::app app{"colors"};
  colors::declare(app);
  mephisto::worker_options opts;
  opts.broker = url;
  opts.id = id;
  opts.threads = threads;
  opts.linger_ms = linger_ms;
  opts.processing_guarantee = guarantee;
  opts.cluster_secret = "bench";
  opts.cluster_seeds = seeds;
  opts.log_level = std::getenv("BENCH_LOG") ? std::getenv("BENCH_LOG") : "warn";
  auto w = std::make_unique<mephisto::worker>(app.resolve(opts), opts);
  if (auto err = w->start())
    throw std::runtime_error(mephisto::render(err));
  while (w->stats().assigned.load() == 0)
    std::this_thread::sleep_for(1ms);
  return w;
}

/// (b) the colors app; returns seconds from assignment to the last output record.
double colors_pipeline(mephisto::kafka::embedded_broker& broker, size_t colors_expected,
                       int round, int threads) {
  auto id = "colors-bench-" + std::to_string(round);
  for (auto& spec : colors_topics(id))
    if (spec.name != "input" && spec.name != "output") // made by main
      broker.create_topic(spec.name, spec.partitions);
  auto probe = client(RD_KAFKA_PRODUCER, broker.bootstrap(), {});
  auto before = records_in(probe.get(), "output", partitions);
  auto w = start_colors(broker.url(), id, threads);
  auto start = steady_clock::now();
  auto target = before + static_cast<int64_t>(colors_expected);
  while (records_in(probe.get(), "output", partitions) < target) {
    std::this_thread::sleep_for(5ms);
    if (steady_clock::now() - start > 300s)
      throw std::runtime_error("the pipeline did not finish within 300 s");
  }
  auto secs = duration<double>(steady_clock::now() - start).count();
  w->stop();
  w->wait();
  return secs;
}

/// Exactly-once against at-least-once: the colors app on a real broker reads the same
/// input from the beginning (a new app id each round), alternating guarantees; a round ends
/// when every output is in `output` and, under exactly-once, committed.
int guarantee_bench(const std::string& url, size_t words, int rounds, int threads) {
  auto tag = std::to_string(::getpid());
  std::unique_ptr<mephisto::kafka::embedded_broker> embedded;
  std::vector<mephisto::kafka::topic_spec> topics;
  for (int r = 0; r < 2 * rounds; ++r)
    for (auto& spec : colors_topics("colors-guarantee-" + tag + "-" + std::to_string(r)))
      topics.push_back(spec);
  auto bootstrap = connect(url, embedded, topics);
  auto expected = produce_words(bootstrap, "input", words, partitions);
  auto probe = client(RD_KAFKA_PRODUCER, bootstrap, {});
  std::printf("input: %zu words (%zu colors) on %d partitions, %s, %u cores\n", words, expected,
              partitions, url.c_str(), std::thread::hardware_concurrency());
  auto run = [&](int r, const std::string& guarantee) {
    auto before = records_in(probe.get(), "output", partitions);
    auto w = start_colors("kafka://" + bootstrap,
                          "colors-guarantee-" + tag + "-" + std::to_string(r), threads, 5,
                          guarantee);
    auto start = steady_clock::now();
    auto target = before + static_cast<int64_t>(expected);
    while (records_in(probe.get(), "output", partitions) < target) {
      std::this_thread::sleep_for(2ms);
      if (steady_clock::now() - start > 300s)
        throw std::runtime_error("the pipeline did not finish within 300 s");
    }
    auto end = steady_clock::now();
    if (guarantee == "exactly_once") {
      // ... and committed: the next commit, or an idle commit cycle if the last one
      // already held them (then it ended at the last commit).
      auto& stats = w->stats();
      auto commits = stats.commits.load();
      auto idle = stats.idle_commits.load();
      while (stats.commits.load() == commits && stats.idle_commits.load() == idle)
        std::this_thread::sleep_for(1ms);
      if (stats.commits.load() > commits)
        end = steady_clock::now();
    }
    auto secs = duration<double>(end - start).count();
    w->stop();
    w->wait();
    return words / secs;
  };
  std::vector<double> ratios;
  for (int r = 0; r < rounds; ++r) {
    auto alos = run(2 * r, "at_least_once");
    auto eos = run(2 * r + 1, "exactly_once");
    ratios.push_back(eos / alos);
    std::printf("round %d: (a) at-least-once %9.0f msgs/s   (b) exactly-once %9.0f msgs/s   "
                "b/a = %.2f\n",
                r + 1, alos, eos, eos / alos);
    std::fflush(stdout);
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("median b/a = %.2f\n", ratios[ratios.size() / 2]);
  return 0;
}

/// Table lookups through the cluster: two colors workers in this process (each with its
/// own actor system and middleman, talking over loopback TCP), `n` lookups of every color
/// from each; a color is local on the worker whose table partitions hold it, routed on the
/// other.
int lookup_bench(int n, int threads) {
  mephisto::kafka::embedded_broker broker;
  if (auto err = broker.start())
    throw std::runtime_error(mephisto::render(err));
  auto id = "colors-lookups";
  for (auto& spec : colors_topics(id))
    broker.create_topic(spec.name, spec.partitions);
  auto w1 = start_colors(broker.url(), id, threads);
  auto w2 = start_colors(broker.url(), id, threads, 5, "at_least_once", w1->cluster_address());
  // Both hold partitions, and both know it (a few heartbeats).
  while (w1->stats().assigned.load() == 16 || w2->stats().assigned.load() == 0)
    std::this_thread::sleep_for(10ms);
  produce_words(broker.bootstrap(), "input", 30000, partitions);
  std::this_thread::sleep_for(3s);
  std::printf("lookups: %d per color and instance, 2 instances in one process, loopback\n", n);
  std::vector<int64_t> local;
  std::vector<int64_t> routed;
  for (auto* w : {w1.get(), w2.get()}) {
    auto rows = w->table_snapshot("colors-count");
    if (!rows)
      throw std::runtime_error(mephisto::render(rows.error()));
    for (std::string color : {"red", "green", "blue"}) {
      bool here = std::any_of(rows->begin(), rows->end(),
                              [&](auto& kv) { return kv.first == color; });
      for (int i = 0; i < n; ++i) {
        auto start = steady_clock::now();
        auto value = w->table_get("colors-count", color);
        auto us = duration_cast<std::chrono::microseconds>(steady_clock::now() - start).count();
        if (!value || !value->has_value())
          throw std::runtime_error("lookup of " + color + " failed");
        (here ? local : routed).push_back(us);
      }
    }
  }
  for (auto* xs : {&local, &routed}) {
    std::sort(xs->begin(), xs->end());
    auto pct = [&](double p) { return (*xs)[static_cast<size_t>(p * (xs->size() - 1))]; };
    std::printf("%s: %zu lookups  p50 %lld us  p99 %lld us  max %lld us\n",
                xs == &local ? "local " : "routed", xs->size(),
                static_cast<long long>(pct(0.5)), static_cast<long long>(pct(0.99)),
                static_cast<long long>(xs->back()));
  }
  w2->stop();
  w2->wait();
  w1->stop();
  w1->wait();
  return 0;
}

/// End-to-end latency of the colors pipeline at a fixed input rate: color words are
/// produced at `rate` per second (CreateTime = send time), the pipeline stamps its outputs
/// with their input's time, and a consumer of `output` takes now - timestamp per record.
int latency(const std::string& url, int rate, int seconds, int threads, int linger_ms) {
  auto id = "colors-latency-" + std::to_string(::getpid());
  std::unique_ptr<mephisto::kafka::embedded_broker> embedded;
  auto bootstrap = connect(url, embedded, colors_topics(id));
  auto w = start_colors("kafka://" + bootstrap, id, threads, linger_ms);
  // Read `output` from its end.
  auto consumer = client(RD_KAFKA_CONSUMER, bootstrap,
                         {{"group.id", id + "-probe"}, {"fetch.wait.max.ms", "5"},
                          {"enable.auto.commit", "false"}});
  auto parts = rd_kafka_topic_partition_list_new(partitions);
  for (int32_t p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(parts, "output", p)->offset = RD_KAFKA_OFFSET_END;
  rd_kafka_assign(consumer.get(), parts);
  rd_kafka_topic_partition_list_destroy(parts);
  // Warm up: the pipeline has joined, recovered and got its producer id once one word made
  // it through; only then does the measurement start.
  {
    auto producer = client(RD_KAFKA_PRODUCER, bootstrap, {{"linger.ms", "0"}});
    auto rkt = rd_kafka_topic_new(producer.get(), "input", nullptr);
    auto give_up = steady_clock::now() + 120s;
    size_t warm = 0;
    while (warm < static_cast<size_t>(partitions) && steady_clock::now() < give_up) {
      for (int32_t p = 0; p < partitions; ++p)
        produce_or_wait(producer.get(), rkt, p, nullptr, 0, "red", 3);
      rd_kafka_flush(producer.get(), 5000);
      for (auto until = steady_clock::now() + 500ms; steady_clock::now() < until;) {
        if (auto m = rd_kafka_consumer_poll(consumer.get(), 50)) {
          warm += m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
          rd_kafka_message_destroy(m);
        }
      }
    }
    rd_kafka_topic_destroy(rkt);
    if (warm == 0)
      throw std::runtime_error("the pipeline produced nothing within 120 s");
    // Drain what the warm-up left.
    while (auto m = rd_kafka_consumer_poll(consumer.get(), 500))
      rd_kafka_message_destroy(m);
  }
  std::atomic<bool> producing{true};
  std::thread feeder{[&] {
    auto producer = client(RD_KAFKA_PRODUCER, bootstrap,
                           {{"linger.ms", std::to_string(linger_ms)}});
    auto rkt = rd_kafka_topic_new(producer.get(), "input", nullptr);
    static const char* colors[] = {"red", "green", "blue"};
    auto start = steady_clock::now();
    for (int64_t i = 0; i < int64_t{rate} * seconds; ++i) {
      // Pace: the i-th record is due at start + i / rate.
      std::this_thread::sleep_until(start + microseconds(i * 1'000'000 / rate));
      auto w = colors[i % 3];
      produce_or_wait(producer.get(), rkt, static_cast<int32_t>(i % partitions), nullptr, 0, w,
                      std::strlen(w));
      rd_kafka_poll(producer.get(), 0);
    }
    rd_kafka_flush(producer.get(), 10000);
    rd_kafka_topic_destroy(rkt);
    producing = false;
  }};
  std::vector<int64_t> latencies;
  latencies.reserve(static_cast<size_t>(rate) * seconds);
  auto deadline = steady_clock::now() + seconds * 1s + 30s;
  while (latencies.size() < static_cast<size_t>(rate) * seconds
         && steady_clock::now() < deadline) {
    auto m = rd_kafka_consumer_poll(consumer.get(), 100);
    if (m == nullptr)
      continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      auto now = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
      latencies.push_back(now - rd_kafka_message_timestamp(m, nullptr));
    }
    rd_kafka_message_destroy(m);
  }
  feeder.join();
  rd_kafka_consumer_close(consumer.get());
  w->stop();
  w->wait();
  if (latencies.empty())
    throw std::runtime_error("no output arrived");
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double q) { return latencies[static_cast<size_t>(q * (latencies.size() - 1))]; };
  std::printf("latency at %d msgs/s for %d s (%s, linger.ms=%d, %zu outputs): "
              "p50 %lld ms, p99 %lld ms, max %lld ms (target p99 <= 10 ms)\n",
              rate, seconds, url == "embedded" ? "embedded broker" : url.c_str(), linger_ms,
              latencies.size(), static_cast<long long>(pct(0.5)),
              static_cast<long long>(pct(0.99)), static_cast<long long>(latencies.back()));
  return 0;
}

/// Table recovery against raw consumption of the same changelog partition: `records`
/// records over 100k keys into one partition, then (a) read it to the high watermark with a
/// bare consumer and (b) restore it into a memory store, alternating.
int restore_bench(const std::string& url, int64_t records, int rounds) {
  const std::string topic = "restore-bench-" + std::to_string(::getpid()) + "-changelog";
  std::unique_ptr<mephisto::kafka::embedded_broker> embedded;
  auto bootstrap = connect(url, embedded, {{topic, 1, true, true}});
  {
    auto producer = client(RD_KAFKA_PRODUCER, bootstrap, producer_settings);
    auto rkt = rd_kafka_topic_new(producer.get(), topic.c_str(), nullptr);
    std::string key;
    std::string value;
    for (int64_t i = 0; i < records; ++i) {
      key = "key-" + std::to_string(i % 100'000);
      value = std::to_string(i);
      produce_or_wait(producer.get(), rkt, 0, key.data(), key.size(), value.data(),
                      value.size());
    }
    rd_kafka_flush(producer.get(), 120000);
    rd_kafka_topic_destroy(rkt);
  }
  std::printf("changelog: %lld records, 100k keys, one partition (%s)\n",
              static_cast<long long>(records), url.c_str());
  std::vector<double> ratios;
  std::vector<double> rocks_ratios;
  for (int r = 0; r < rounds; ++r) {
    // (a) raw: a bare consumer to the high watermark.
    auto consumer = client(RD_KAFKA_CONSUMER, bootstrap,
                           {{"group.id", "restore-bench-raw"}, {"enable.auto.commit", "false"},
                            {"fetch.wait.max.ms", "50"}, {"queued.min.messages", "100000"}});
    auto parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    auto start = steady_clock::now();
    rd_kafka_assign(consumer.get(), parts);
    rd_kafka_topic_partition_list_destroy(parts);
    auto q = rd_kafka_queue_get_consumer(consumer.get());
    std::vector<rd_kafka_message_t*> buf(1000);
    int64_t seen = 0;
    while (seen < records) {
      auto n = rd_kafka_consume_batch_queue(q, 100, buf.data(), buf.size());
      for (ssize_t i = 0; i < n; ++i) {
        seen += buf[i]->err == RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_message_destroy(buf[i]);
      }
    }
    auto raw_s = duration<double>(steady_clock::now() - start).count();
    rd_kafka_queue_destroy(q);
    rd_kafka_consumer_close(consumer.get());
    // (b) restore into a memory store (decode every record, apply it).
    mephisto::memory_store<std::string, int64_t> store;
    mephisto::kafka::restore_job job;
    job.bootstrap = bootstrap;
    job.changelog = topic;
    job.partition = 0;
    job.table = "bench";
    start = steady_clock::now();
    auto res = mephisto::kafka::restore_changelog(job, store);
    auto restore_s = duration<double>(steady_clock::now() - start).count();
    if (!res)
      throw std::runtime_error(mephisto::render(res.error()));
    auto raw_rate = records / raw_s;
    auto restore_rate = static_cast<double>(res->records) / restore_s;
    ratios.push_back(restore_rate / raw_rate);
    // (c) restore into a fresh RocksDB store (decode-checked, written in batches with the
    // changelog offset).
    auto dir = "/tmp/mephisto-bench-rocksdb-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    double rocks_rate = 0;
    size_t rocks_keys = 0;
    {
      mephisto::rocksdb_env env{dir, 256 << 20, 128 << 20};
      auto rocks = std::make_shared<mephisto::rocksdb_store<std::string, int64_t>>(
        mephisto::store_place{&env, "bench", 0, 100000});
      std::string why;
      if (auto err = rocks->open(why))
        throw std::runtime_error(mephisto::render(err));
      start = steady_clock::now();
      auto rres = mephisto::kafka::restore_changelog(job, *rocks);
      auto rocks_s = duration<double>(steady_clock::now() - start).count();
      if (!rres)
        throw std::runtime_error(mephisto::render(rres.error()));
      rocks_rate = static_cast<double>(rres->records) / rocks_s;
      rocks_keys = rocks->size();
    }
    std::filesystem::remove_all(dir);
    rocks_ratios.push_back(rocks_rate / raw_rate);
    std::printf("round %d: (a) raw consume %9.0f records/s   (b) restore to memory %9.0f "
                "records/s (%zu keys) b/a = %.2f   (c) restore to RocksDB %9.0f records/s "
                "(%zu keys) c/a = %.2f\n",
                r + 1, raw_rate, restore_rate, store.size(), restore_rate / raw_rate,
                rocks_rate, rocks_keys, rocks_rate / raw_rate);
    std::fflush(stdout);
  }
  std::sort(rocks_ratios.begin(), rocks_ratios.end());
  std::printf("median c/a = %.2f (goal >= 0.5)\n", rocks_ratios[rocks_ratios.size() / 2]);
  std::sort(ratios.begin(), ratios.end());
  std::printf("median b/a = %.2f (goal >= 0.5)\n", ratios[ratios.size() / 2]);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  // A worker process of --failover (this program re-executed), not a benchmark.
  if (argc > 1 && std::string{argv[1]} == "--failover-worker")
    return failover_worker(argc, argv);
  size_t words = 600'000;
  int rounds = 3;
  int threads = 2;
  CLI::App cli{"mephisto-bench: colors pipeline vs. raw librdkafka on the embedded broker"};
  cli.add_option("--words", words, "input words (8 partitions; the mock keeps ~80k/partition)");
  auto rounds_opt = cli.add_option("--rounds", rounds, "alternating rounds of (a) and (b); "
                                   "--failover: rounds of all variants (default 1)");
  cli.add_option("--threads", threads, "CAF scheduler threads for the pipeline");
  bool latency_mode = false;
  std::string broker_url = "embedded";
  int rate = 5000;
  int seconds = 20;
  int linger_ms = 1;
  cli.add_flag("--latency", latency_mode, "measure end-to-end latency at a fixed rate instead");
  bool lookup_mode = false;
  int lookups = 2000;
  bool api_mode = false;
  size_t api_records = 200000;
  size_t api_window = 32;
  cli.add_flag("--actor-api", api_mode,
               "measure topic writers, subscriptions and table readers against their baselines");
  cli.add_option("--api-records", api_records, "--actor-api: records per round");
  cli.add_option("--api-window", api_window, "--actor-api: write batches (1000 records) unanswered at once");
  cli.add_flag("--lookups", lookup_mode,
               "measure routed table lookups (two workers, embedded broker) instead");
  cli.add_option("--lookup-count", lookups, "--lookups: lookups per color and instance");
  bool guarantee_mode = false;
  cli.add_flag("--exactly-once", guarantee_mode,
               "measure exactly-once against at-least-once (real broker: --broker) instead");
  bool restore_mode = false;
  int64_t changelog_records = 1'000'000;
  cli.add_flag("--restore", restore_mode,
               "measure table recovery against raw consumption of the changelog instead");
  auto records_opt = cli.add_option("--records", changelog_records,
                                    "--restore: changelog records; --failover: preloaded events "
                                    "(default 2000000)");
  bool failover_mode = false;
  failover_options failover;
  cli.add_flag("--failover", failover_mode,
               "measure the pause after kill -9 of one of two worker processes, with and "
               "without standby replicas (real broker: --broker) instead");
  cli.add_option("--keys", failover.keys, "--failover: distinct keys");
  cli.add_option("--settle-seconds", failover.settle_seconds,
                 "--failover: wait after the preload before the kill");
  cli.add_option("--stores", failover.stores, "--failover: memory, rocksdb or both")
    ->delimiter(',')->check(CLI::IsMember({"memory", "rocksdb"}));
  cli.add_option("--broker", broker_url,
                 "--latency, --restore, --exactly-once, --failover: embedded or "
                 "kafka://host:port (creates the topics it needs there)");
  auto rate_opt = cli.add_option("--rate", rate,
                                 "--latency: input records per second; --failover: events per "
                                 "second during the failover (default 2000)");
  cli.add_option("--seconds", seconds, "--latency: how long to feed");
  cli.add_option("--linger-ms", linger_ms, "--latency: linger.ms of every producer");
  CLI11_PARSE(cli, argc, argv);
  // One mode per run; each reports a failure as an error line and exit code 1.
  auto run = [](auto&& mode) {
    try {
      mephisto::set_log_level("warn");
      return mode();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    }
  };
  if (failover_mode)
    return run([&] {
      failover.broker = broker_url;
      if (records_opt->count() > 0)
        failover.records = changelog_records;
      if (rate_opt->count() > 0)
        failover.rate = rate;
      if (rounds_opt->count() > 0)
        failover.rounds = rounds;
      return failover_bench(failover);
    });
  if (lookup_mode)
    return run([&] { return lookup_bench(lookups, threads); });
  if (api_mode)
    return run([&] {
      return actor_api_bench(broker_url, api_records, rounds_opt->count() > 0 ? rounds : 3,
                             api_window, threads);
    });
  if (guarantee_mode)
    return run([&] { return guarantee_bench(broker_url, words, rounds, threads); });
  if (restore_mode)
    return run([&] { return restore_bench(broker_url, changelog_records, rounds); });
  if (latency_mode)
    return run([&] { return latency(broker_url, rate, seconds, threads, linger_ms); });
  mephisto::set_log_level("warn");
  mephisto::kafka::embedded_broker broker;
  if (auto err = broker.start()) {
    std::fprintf(stderr, "error: %s\n", mephisto::render(err).c_str());
    return 1;
  }
  for (auto t : {"input", "raw_output", "output"})
    broker.create_topic(t, partitions);
  auto colors_expected = produce_words(broker.bootstrap(), "input", words, partitions);
  std::printf("input: %zu words on %d partitions (%zu colors), embedded broker, %u cores\n"
              "(a) reads %zu and writes %zu records; (b) reads %zu, writes %zu (+ changelog)\n",
              words, partitions, colors_expected, std::thread::hardware_concurrency(), words,
              words, words + colors_expected, 2 * colors_expected);
  std::vector<double> ratios;
  for (int r = 0; r < rounds; ++r) {
    auto raw = words / pass_through(broker.bootstrap(), "input", "raw_output", words, partitions,
                                    "bench-raw-" + std::to_string(r));
    auto pipe = words / colors_pipeline(broker, colors_expected, r, threads);
    ratios.push_back(pipe / raw);
    std::printf("round %d: (a) raw pass-through %9.0f msgs/s   (b) mephisto colors %9.0f msgs/s"
                "   b/a = %.2f\n",
                r + 1, raw, pipe, pipe / raw);
    std::fflush(stdout);
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("median b/a = %.2f (target >= 0.5)\n", ratios[ratios.size() / 2]);
  return 0;
}
