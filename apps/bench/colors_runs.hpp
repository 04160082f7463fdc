#pragma once

// The colors app as the benchmarks run it (colors_runs.cpp): its topics and a started worker.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mephisto/kafka/config.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
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

/// One input for alternating runs of the colors app, each under an app id of its own
/// (`id(r)`, so each reads `input` from the beginning): the topics of every run made,
/// the words produced once.
struct colors_input {
  std::string prefix;        ///< app ids are `<prefix>-<pid>-<run>`
  std::unique_ptr<mephisto::kafka::embedded_broker> embedded;  ///< url "embedded" only
  std::string bootstrap;
  size_t expected = 0;       ///< outputs of one run (the color words)
  mephisto::kafka::handle_ptr probe;  ///< counts what `output` holds

  std::string id(int run) const;

  /// Seconds from `start` until `output` holds `before` + `expected` more records (throws
  /// after 300 s).
  double wait_for_outputs(int64_t before, std::chrono::steady_clock::time_point start) const;

  /// Records `output` holds now.
  int64_t outputs() const;
};

/// Connects to `url` (embedded or kafka://), makes the topics of `runs` runs named after
/// `prefix`, produces `words` words to `input` and prints what the input is.
colors_input prepare_colors_input(const std::string& url, const std::string& prefix, int runs,
                                  size_t words);

} // namespace bench
