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
// Other modes, each described at its function: --latency, --latency-probe, --restore,
// --restore-scale (restore_scale.cpp), --restore-latency (restore_latency.cpp), --exactly-once,
// --lookups (bench_modes.hpp, a file each), --actor-api (actor_api_bench.cpp) and
// --failover (failover.cpp: the pause after kill -9 of a worker process).
// This file: the command line, which runs one mode.

#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "actor_api_bench.hpp"
#include "bench_modes.hpp"
#include "failover.hpp"
#include "mephisto/log.hpp"

using namespace bench;

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
                                   "--failover, --restore-scale: rounds of all variants (default 1), "
                                   "then medians");
  cli.add_option("--threads", threads, "CAF scheduler threads for the pipeline");
  bool latency_mode = false;
  std::string broker_url = "embedded";
  int rate = 5000;
  int seconds = 20;
  int linger_ms = 1;
  cli.add_flag("--latency", latency_mode, "measure end-to-end latency at a fixed rate instead");
  bool probe_mode = false;
  std::string output_topic = "output";
  int warmup_s = 3;
  cli.add_flag("--latency-probe", probe_mode,
               "feed input at --rate and measure the latency of --output-topic, written by a "
               "system in another process (bench/latency.py)");
  cli.add_option("--output-topic", output_topic, "--latency-probe: the topic to measure (more, comma-separated: how far records got there)");
  cli.add_option("--warmup-seconds", warmup_s,
                 "--latency-probe: feeding before the measured window, after the first output");
  bool lookup_mode = false;
  int lookups = 2000;
  bool api_mode = false;
  size_t api_records = 200000;
  size_t api_window = 32;
  cli.add_flag("--actor-api", api_mode,
               "measure topic writers, subscriptions and table readers against their baselines");
  cli.add_option("--api-records", api_records, "--actor-api: records per round");
  cli.add_option("--api-window", api_window, "--actor-api: write batches (1000 records) unanswered at once");
  bool windows_mode = false;
  size_t window_keys = 100000;
  size_t windows_per_key = 10;
  cli.add_flag("--windows", windows_mode,
               "RSS per 1M live windows and updates/s of a windowed table (memory, RocksDB)");
  cli.add_option("--window-keys", window_keys, "--windows: keys");
  cli.add_option("--windows-per-key", windows_per_key, "--windows: live windows per key");
  bool driver_mode = false;
  cli.add_flag("--driver", driver_mode,
               "the colors app through the test driver (no broker): events/s, --words, --rounds");
  cli.add_flag("--lookups", lookup_mode,
               "measure routed table lookups (two workers, embedded broker) instead");
  cli.add_option("--lookup-count", lookups, "--lookups: lookups per color and instance");
  bool guarantee_mode = false;
  cli.add_flag("--exactly-once", guarantee_mode,
               "measure exactly-once against at-least-once (real broker: --broker) instead");
  bool metrics_mode = false;
  cli.add_flag("--metrics", metrics_mode,
               "measure the colors app with its web server off against on, scraped every "
               "second, instead");
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
  cli.add_option("--stores", failover.stores,
                 "--failover, --restore-latency: memory, rocksdb or both; --restore-latency "
                 "also rocksdb-cold (O_DIRECT reads, 16 MiB block cache: reads from the disk)")
    ->delimiter(',')->check(CLI::IsMember({"memory", "rocksdb", "rocksdb-cold"}));
  cli.add_option("--broker", broker_url,
                 "--latency, --restore, --exactly-once, --metrics, --failover: embedded or "
                 "kafka://host:port (creates the topics it needs there)");
  auto rate_opt = cli.add_option("--rate", rate,
                                 "--latency: input records per second; --failover: events per "
                                 "second during the failover (default 2000); --restore-latency: "
                                 "events per second to the other partitions (default 1000)");
  cli.add_option("--seconds", seconds, "--latency: how long to feed");
  cli.add_option("--linger-ms", linger_ms, "--latency: linger.ms of every producer");
  bool scale_mode = false;
  std::vector<int64_t> scale_keys{1'000'000, 5'000'000, 10'000'000};
  cli.add_flag("--restore-scale", scale_mode,
               "restore time, records/s and peak RSS against table size (memory, RocksDB)");
  cli.add_option("--scale-keys", scale_keys, "--restore-scale: table sizes in keys")
    ->delimiter(',');
  bool restore_latency_mode = false;
  cli.add_flag("--restore-latency", restore_latency_mode,
               "the other partitions' latency, lookups and memory while one partition restores "
               "--records changelog records (default 10000000; real broker: --broker)");
  std::string child_kind;
  std::string child_bootstrap;
  std::string child_topic;
  std::string child_dir;
  auto child_opt = cli.add_option("--restore-scale-child", child_kind)->group("");
  cli.add_option("--bootstrap-servers", child_bootstrap)->group("");
  cli.add_option("--topic", child_topic)->group("");
  cli.add_option("--dir", child_dir)->group("");
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
  if (driver_mode)
    return run([&] { return driver_bench(words, rounds); });
  if (windows_mode)
    return run([&] { return windows_bench(window_keys, windows_per_key); });
  if (api_mode)
    return run([&] {
      return actor_api_bench(broker_url, api_records, rounds_opt->count() > 0 ? rounds : 3,
                             api_window, threads);
    });
  if (guarantee_mode)
    return run([&] { return guarantee_bench(broker_url, words, rounds, threads); });
  if (metrics_mode)
    return run([&] { return metrics_bench(broker_url, words, rounds, threads); });
  if (child_opt->count() > 0)
    return run([&] {
      return restore_scale_child(child_kind, child_bootstrap, child_topic, changelog_records,
                                 child_dir);
    });
  if (restore_latency_mode)
    return run([&] {
      return restore_latency_bench(broker_url,
                                   records_opt->count() > 0 ? changelog_records : 10'000'000,
                                   rate_opt->count() > 0 ? rate : 1000, failover.stores);
    });
  if (scale_mode)
    return run([&] {
      return restore_scale_bench(broker_url, scale_keys, rounds_opt->count() > 0 ? rounds : 1);
    });
  if (restore_mode)
    return run([&] { return restore_bench(broker_url, changelog_records, rounds); });
  if (probe_mode)
    return run([&] { return latency_probe(broker_url, output_topic, rate, seconds, warmup_s); });
  if (latency_mode)
    return run([&] { return latency_bench(broker_url, rate, seconds, threads, linger_ms); });
  mephisto::set_log_level("warn");
  return throughput_bench(words, rounds, threads);
}
