#pragma once

#include <atomic>
#include <cstdint>

namespace mephisto {

/// Counters of a whole worker, updated once per batch by its agents (relaxed atomics) and
/// read by anyone.
struct worker_stats {
  std::atomic<uint64_t> events{0};
  std::atomic<uint64_t> decode_errors{0};
  std::atomic<uint64_t> failures{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> dead_letters{0};
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> restored_records{0};
  std::atomic<int64_t> assigned{0};      ///< topic partitions currently assigned
  std::atomic<int64_t> rebalances{0};
  std::atomic<int64_t> commits{0};
  std::atomic<int64_t> aborts{0};        ///< exactly-once: transactions aborted
  std::atomic<int64_t> idle_commits{0};  ///< exactly-once: commit cycles with nothing to commit
  std::atomic<int64_t> last_commit_ns{0}; ///< steady clock of the last commit
  std::atomic<int64_t> restarts{0};      ///< partition pipelines restarted after a failure
  std::atomic<int64_t> standby_partitions{0}; ///< table partitions kept warm here for others
  std::atomic<uint64_t> standby_records{0};   ///< changelog records applied to them
  std::atomic<int64_t> standby_handovers{0};  ///< warm copies taken over by a local shard
  /// Changelog records the furthest-behind copy lacks (from the fetched end offsets, so
  /// transaction markers count too): what a failover to it would still restore.
  std::atomic<int64_t> standby_lag{0};
};

} // namespace mephisto
