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

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "colors_app.hpp"
#include "mephisto/actors/env.hpp"
#include "mephisto/kafka/config.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/log.hpp"
#include "mephisto/worker.hpp"
#include "bench_kit.hpp"

using namespace std::chrono;
using namespace bench;

namespace {

constexpr int32_t partitions = 8;

/// (b) the colors app; returns seconds from assignment to the last output record.
double colors_pipeline(mephisto::kafka::embedded_broker& broker, size_t colors_expected,
                       int round, int threads) {
  auto id = "colors-bench-" + std::to_string(round);
  broker.create_topic(id + "-colors_topic", partitions);
  broker.create_topic(id + "-colors-count-changelog", partitions);
  auto probe = client(RD_KAFKA_PRODUCER, broker.bootstrap(), {});
  auto before = records_in(probe.get(), "output", partitions);
  mephisto::app app{"colors"};
  colors::declare(app);
  mephisto::worker_options opts;
  opts.broker = broker.url();
  opts.id = id;
  opts.threads = threads;
  opts.log_level = "warn";
  mephisto::worker w{app.resolve(opts), opts};
  if (auto err = w.start())
    throw std::runtime_error(mephisto::render(err));
  while (w.stats().assigned.load() == 0)
    std::this_thread::sleep_for(1ms);
  auto start = steady_clock::now();
  auto target = before + static_cast<int64_t>(colors_expected);
  while (records_in(probe.get(), "output", partitions) < target) {
    std::this_thread::sleep_for(5ms);
    if (steady_clock::now() - start > 300s)
      throw std::runtime_error("the pipeline did not finish within 300 s");
  }
  auto secs = duration<double>(steady_clock::now() - start).count();
  w.stop();
  w.wait();
  return secs;
}

} // namespace

int main(int argc, char** argv) {
  size_t words = 600'000;
  int rounds = 3;
  int threads = 2;
  CLI::App cli{"mephisto-bench: colors pipeline vs. raw librdkafka on the embedded broker"};
  cli.add_option("--words", words, "input words (8 partitions; the mock keeps ~80k/partition)");
  cli.add_option("--rounds", rounds, "alternating rounds of (a) and (b)");
  cli.add_option("--threads", threads, "CAF scheduler threads for the pipeline");
  CLI11_PARSE(cli, argc, argv);
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
