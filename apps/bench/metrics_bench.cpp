#include "bench_modes.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "bench_kit.hpp"
#include "colors_runs.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "support/http_client.hpp"

namespace bench {

/// The cost of the metrics: the colors app on the same input (a new app id per round, so
/// each reads from the beginning), alternating (a) `web_listen = off` (no web server, no
/// per-event latency histogram) and (b) the web server on, scraped every second (a busy
/// Prometheus), in alternating order. A round ends when every output is in `output`.
int metrics_bench(const std::string& url, size_t words, int rounds, int threads) {
  auto tag = std::to_string(::getpid());
  std::unique_ptr<mephisto::kafka::embedded_broker> embedded;
  std::vector<mephisto::kafka::topic_spec> topics;
  for (int r = 0; r < 2 * rounds; ++r)
    for (auto& spec : colors_topics("colors-metrics-" + tag + "-" + std::to_string(r)))
      topics.push_back(spec);
  auto bootstrap = connect(url, embedded, topics);
  auto expected = produce_words(bootstrap, "input", words, colors_partitions);
  auto probe = client(RD_KAFKA_PRODUCER, bootstrap, {});
  std::printf("input: %zu words (%zu colors) on %d partitions, %s, %u cores\n", words,
              expected, colors_partitions, url.c_str(), std::thread::hardware_concurrency());
  auto run = [&](int r, bool metrics_on) {
    auto before = records_in(probe.get(), "output", colors_partitions);
    auto w = start_colors("kafka://" + bootstrap, "colors-metrics-" + tag + "-" + std::to_string(r),
                          threads, 5, "at_least_once", "", metrics_on ? "127.0.0.1:0" : "off");
    std::atomic<bool> done{false};
    std::atomic<int> scrapes{0};
    std::thread scraper;
    if (metrics_on)
      scraper = std::thread([&] {
        while (!done) {
          auto page = testkit::http_get(w->web_address(), "/metrics");
          if (page.status != 200)
            throw std::runtime_error("a scrape failed: " + page.error);
          ++scrapes;
          for (int i = 0; i < 100 && !done; ++i)
            std::this_thread::sleep_for(10ms);
        }
      });
    auto start = steady_clock::now();
    auto target = before + static_cast<int64_t>(expected);
    while (records_in(probe.get(), "output", colors_partitions) < target) {
      std::this_thread::sleep_for(2ms);
      if (steady_clock::now() - start > 300s)
        throw std::runtime_error("the pipeline did not finish within 300 s");
    }
    auto secs = duration<double>(steady_clock::now() - start).count();
    done = true;
    if (scraper.joinable())
      scraper.join();
    w->stop();
    w->wait();
    return std::pair{words / secs, scrapes.load()};
  };
  std::vector<double> ratios;
  for (int r = 0; r < rounds; ++r) {
    // Which goes first alternates: the second run of a round finds the input in the
    // broker's page cache and the machine warm.
    std::pair<double, int> off;
    std::pair<double, int> on;
    if (r % 2 == 0) {
      off = run(2 * r, false);
      on = run(2 * r + 1, true);
    } else {
      on = run(2 * r, true);
      off = run(2 * r + 1, false);
    }
    ratios.push_back(on.first / off.first);
    std::printf("round %d: (a) metrics off %9.0f msgs/s   (b) metrics on %9.0f msgs/s "
                "(%d scrapes)   b/a = %.2f\n",
                r + 1, off.first, on.first, on.second, on.first / off.first);
    std::fflush(stdout);
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("median b/a = %.2f (goal >= 0.97)\n", ratios[ratios.size() / 2]);
  return 0;
}

} // namespace bench
