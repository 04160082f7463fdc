#include "colors_runs.hpp"

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include <cstdio>

#include <unistd.h>

#include "bench_kit.hpp"
#include "colors_app.hpp"
#include "mephisto/app.hpp"

namespace bench {

using namespace std::chrono_literals;

/// The topics the colors app needs as app id `id`, all with the benchmark's colors_partitions.
std::vector<mephisto::kafka::topic_spec> colors_topics(const std::string& id) {
  mephisto::app app{"colors"};
  colors::declare(app);
  mephisto::worker_options opts;
  opts.id = id;
  auto specs = app.resolve(opts)->topic_specs(colors_partitions);
  for (auto& spec : specs) {
    spec.partitions = colors_partitions;
    spec.create = true; // a benchmark may create the source topics too
  }
  return specs;
}

/// Starts the colors app as app id `id` on `url` and waits until it has partitions.
std::unique_ptr<mephisto::worker> start_colors(const std::string& url, const std::string& id,
                                               int threads, int linger_ms,
                                               const std::string& guarantee,
                                               const std::string& seeds,
                                               const std::string& web_listen) {
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
  opts.web_listen = web_listen;
  opts.log_level = std::getenv("BENCH_LOG") ? std::getenv("BENCH_LOG") : "warn";
  auto w = std::make_unique<mephisto::worker>(app.resolve(opts), opts);
  if (auto err = w->start())
    throw std::runtime_error(mephisto::render(err));
  while (w->stats().assigned.load() == 0)
    std::this_thread::sleep_for(1ms);
  return w;
}

std::string colors_input::id(int run) const {
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(run);
}

int64_t colors_input::outputs() const {
  return records_in(probe.get(), "output", colors_partitions);
}

double colors_input::wait_for_outputs(int64_t before,
                                      std::chrono::steady_clock::time_point start) const {
  auto target = before + static_cast<int64_t>(expected);
  while (outputs() < target) {
    std::this_thread::sleep_for(2ms);
    if (steady_clock::now() - start > 300s)
      throw std::runtime_error("the pipeline did not finish within 300 s");
  }
  return duration<double>(steady_clock::now() - start).count();
}

colors_input prepare_colors_input(const std::string& url, const std::string& prefix, int runs,
                                  size_t words) {
  colors_input in;
  in.prefix = prefix;
  std::vector<mephisto::kafka::topic_spec> topics;
  for (int r = 0; r < runs; ++r)
    for (auto& spec : colors_topics(in.id(r)))
      topics.push_back(spec);
  in.bootstrap = connect(url, in.embedded, topics);
  in.expected = produce_words(in.bootstrap, "input", words, colors_partitions);
  in.probe = client(RD_KAFKA_PRODUCER, in.bootstrap, {});
  std::printf("input: %zu words (%zu colors) on %d partitions, %s, %u cores\n", words,
              in.expected, colors_partitions, url.c_str(), std::thread::hardware_concurrency());
  return in;
}

} // namespace bench
