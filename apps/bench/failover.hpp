#pragma once

// mephisto-bench --failover (failover.cpp): the pause after a worker is killed.

#include <cstdint>
#include <string>
#include <vector>

namespace bench {

struct failover_options {
  std::string broker;                 ///< kafka://host:port (a real broker)
  int64_t records = 2'000'000;        ///< preloaded events
  int64_t keys = 500'000;             ///< distinct keys of the preload and the trickle
  int rate = 2000;                    ///< trickle events per second during the failover
  int settle_seconds = 3;             ///< wait after the preload before the kill
  int rounds = 1;                     ///< every variant once per round
  std::vector<std::string> stores{"memory", "rocksdb"};
};

/// Runs every variant (store kind x standby replicas 0 and 1) and prints the summary.
int failover_bench(const failover_options& opts);

/// The hidden `--failover-worker PREFIX worker [worker options]` of the re-executed bench:
/// a keyed counter on topics PREFIX-events and PREFIX-counts-out, run by `app::main`.
int failover_worker(int argc, char** argv);

} // namespace bench
