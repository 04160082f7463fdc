#pragma once

// What the in-process tests on the suite's real broker (kafka_embedding_tests) share: where
// the broker is, and the options of a worker on it.

#include <fstream>
#include <string>

#include "mephisto/options.hpp"

namespace real_kafka_worker {

/// The bootstrap the `kafka.start` fixture wrote to KAFKA_DIR/bootstrap; empty when no
/// broker runs (the caller fails loudly).
inline std::string bootstrap() {
  std::string out;
  std::ifstream{std::string{KAFKA_DIR} + "/bootstrap"} >> out;
  return out;
}

/// An in-process worker on the real broker: exactly-once, 4 partitions per internal topic,
/// no web view and no cluster, warnings only.
inline mephisto::worker_options exactly_once_options(const std::string& bootstrap) {
  mephisto::worker_options opts;
  opts.broker = "kafka://" + bootstrap;
  opts.web_listen = "off";
  opts.processing_guarantee = "exactly_once";
  opts.topic_partitions = 4;
  opts.cluster_listen = "off";
  opts.log_level = "warn";
  return opts;
}

} // namespace real_kafka_worker
