#include "bench_modes.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_kit.hpp"
#include "colors_runs.hpp"
#include "mephisto/kafka/embedded_broker.hpp"

namespace bench {

/// Table lookups through the cluster: two colors workers in this process (each with its
/// own actor system and middleman, talking over loopback TCP), `n` lookups of every color
/// from each; a color is local on the worker whose table colors_partitions hold it, routed on the
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
  // Both hold colors_partitions, and both know it (a few heartbeats).
  while (w1->stats().assigned.load() == 16 || w2->stats().assigned.load() == 0)
    std::this_thread::sleep_for(10ms);
  produce_words(broker.bootstrap(), "input", 30000, colors_partitions);
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

} // namespace bench
