#pragma once

// The colors app as the benchmarks run it (colors_runs.cpp): its topics and a started worker.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mephisto/topology.hpp"
#include "mephisto/worker.hpp"

namespace bench {

/// Partitions of every topic of the colors benchmarks.
constexpr int32_t colors_partitions = 8;

/// The topics the colors app needs as app id `id`, all with the benchmark's partitions.
std::vector<mephisto::kafka::topic_spec> colors_topics(const std::string& id);

/// Starts the colors app as app id `id` on `url` and waits until it has partitions. Its web
/// server listens on `web_listen` (a free port by default; "off": none, nor the metrics'
/// per-event latency histogram).
std::unique_ptr<mephisto::worker> start_colors(const std::string& url, const std::string& id,
                                               int threads, int linger_ms = 5,
                                               const std::string& guarantee = "at_least_once",
                                               const std::string& seeds = "",
                                               const std::string& web_listen = "127.0.0.1:0");

} // namespace bench
