#pragma once

#include <cstdint>
#include <string>

#include "mephisto/topology.hpp"
#include "mephisto/worker_stats.hpp"

namespace mephisto {
class rocksdb_env;
} // namespace mephisto

namespace mephisto::web {

/// What `/ready` answers: ready when the worker serves, joined its consumer group, is not
/// inside a rebalance, and every assigned partition's pipeline is processing (its tables
/// recovered). A worker with nothing assigned (more instances than partitions) is ready.
struct readiness {
  bool ready = false;
  std::string reason;          ///< why not, for humans
  int64_t assigned = 0;
  int64_t running = 0;
  int64_t restore_remaining = 0;  ///< changelog records the restores still have to read
};

readiness check_readiness(const worker_stats& s, bool serving);

/// The worker's counters in Prometheus' text format (version 0.0.4), every series labelled
/// `app`. The same numbers as `worker::stats()`, except `mephisto_agent_mailbox_peak`,
/// which resets on every read. `rocks` (null: tables in memory) adds RocksDB's memory.
std::string metrics_page(worker_stats& s, const topology& topo, const rocksdb_env* rocks,
                         bool serving);

} // namespace mephisto::web
