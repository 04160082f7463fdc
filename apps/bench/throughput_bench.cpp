#include "bench_modes.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>


#include "bench_kit.hpp"
#include "colors_runs.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/log.hpp"

namespace bench {

namespace {

/// (b) the colors app; returns seconds from assignment to the last output record.
double colors_pipeline(mephisto::kafka::embedded_broker& broker, size_t colors_expected,
                       int round, int threads) {
  auto id = "colors-bench-" + std::to_string(round);
  for (auto& spec : colors_topics(id))
    if (spec.name != "input" && spec.name != "output") // made by main
      broker.create_topic(spec.name, spec.partitions);
  auto probe = client(RD_KAFKA_PRODUCER, broker.bootstrap(), {});
  auto before = records_in(probe.get(), "output", colors_partitions);
  auto w = start_colors(broker.url(), id, threads);
  auto start = steady_clock::now();
  auto target = before + static_cast<int64_t>(colors_expected);
  while (records_in(probe.get(), "output", colors_partitions) < target) {
    std::this_thread::sleep_for(5ms);
    if (steady_clock::now() - start > 300s)
      throw std::runtime_error("the pipeline did not finish within 300 s");
  }
  auto secs = duration<double>(steady_clock::now() - start).count();
  w->stop();
  w->wait();
  return secs;
}

} // namespace

/// (a) raw pass-through against (b) the colors app on the embedded broker, `rounds` times
/// on the same `words`; an error starting the broker is an error line and exit code 1.
int throughput_bench(size_t words, int rounds, int threads) {
  mephisto::kafka::embedded_broker broker;
  if (auto err = broker.start()) {
    std::fprintf(stderr, "error: %s\n", mephisto::render(err).c_str());
    return 1;
  }
  for (auto t : {"input", "raw_output", "output"})
    broker.create_topic(t, colors_partitions);
  auto colors_expected = produce_words(broker.bootstrap(), "input", words, colors_partitions);
  std::printf("input: %zu words on %d partitions (%zu colors), embedded broker, %u cores\n"
              "(a) reads %zu and writes %zu records; (b) reads %zu, writes %zu (+ changelog)\n",
              words, colors_partitions, colors_expected, std::thread::hardware_concurrency(),
              words, words, words + colors_expected, 2 * colors_expected);
  std::vector<double> ratios;
  for (int r = 0; r < rounds; ++r) {
    auto raw = words / pass_through(broker.bootstrap(), "input", "raw_output", words,
                                    colors_partitions, "bench-raw-" + std::to_string(r));
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

/// Exactly-once against at-least-once: the colors app on a real broker reads the same
/// input from the beginning (a new app id each round), alternating guarantees; a round ends
/// when every output is in `output` and, under exactly-once, committed.
int guarantee_bench(const std::string& url, size_t words, int rounds, int threads) {
  auto in = prepare_colors_input(url, "colors-guarantee", 2 * rounds, words);
  auto run = [&](int r, const std::string& guarantee) {
    auto before = in.outputs();
    auto w = start_colors("kafka://" + in.bootstrap, in.id(r), threads, 5, guarantee);
    auto start = steady_clock::now();
    auto secs = in.wait_for_outputs(before, start);
    if (guarantee == "exactly_once") {
      // ... and committed: the next commit, or an idle commit cycle if the last one
      // already held them (then it ended at the last commit).
      auto& stats = w->stats();
      auto commits = stats.commits.load();
      auto idle = stats.idle_commits.load();
      while (stats.commits.load() == commits && stats.idle_commits.load() == idle)
        std::this_thread::sleep_for(1ms);
      if (stats.commits.load() > commits)
        secs = duration<double>(steady_clock::now() - start).count();
    }
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

} // namespace bench
