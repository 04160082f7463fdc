#include "bench_modes.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_kit.hpp"
#include "colors_runs.hpp"
#include "support/http_client.hpp"

namespace bench {

/// The cost of the metrics: the colors app on the same input (a new app id per round, so
/// each reads from the beginning), alternating (a) `web_listen = off` (no web server, no
/// per-event latency histogram) and (b) the web server on, scraped every second (a busy
/// Prometheus), in alternating order. A round ends when every output is in `output`.
int metrics_bench(const std::string& url, size_t words, int rounds, int threads) {
  auto in = prepare_colors_input(url, "colors-metrics", 2 * rounds, words);
  auto run = [&](int r, bool metrics_on) {
    auto before = in.outputs();
    auto w = start_colors("kafka://" + in.bootstrap, in.id(r), threads, 5, "at_least_once", "",
                          metrics_on ? "127.0.0.1:0" : "off");
    std::atomic<bool> done{false};
    std::atomic<int> scrapes{0};
    std::string scrape_error; // written by the scraper, read after it joined
    std::thread scraper;
    if (metrics_on)
      scraper = std::thread([&] {
        while (!done) {
          auto page = testkit::http_get(w->web_address(), "/metrics");
          if (page.status != 200) {
            scrape_error = "a scrape failed: " + page.error;
            return;
          }
          ++scrapes;
          for (int i = 0; i < 100 && !done; ++i)
            std::this_thread::sleep_for(10ms);
        }
      });
    auto stop_scraping = [&] {
      done = true;
      if (scraper.joinable())
        scraper.join();
    };
    double secs = 0;
    try {
      secs = in.wait_for_outputs(before, steady_clock::now());
    } catch (...) {
      stop_scraping();
      throw;
    }
    stop_scraping();
    w->stop();
    w->wait();
    if (!scrape_error.empty())
      throw std::runtime_error(scrape_error);
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
