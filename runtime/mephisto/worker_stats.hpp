#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mephisto/duration_histogram.hpp"
#include "mephisto/partition_gauges.hpp"

namespace mephisto {

/// Counters of a whole worker, updated once per batch by its agents (relaxed atomics) and
/// read by anyone: `stats()`, and the `/metrics` page, which shows exactly these.
struct worker_stats {
  /// `agents`: how many agents the topology declares (one counter each).
  explicit worker_stats(size_t agents = 0) : agent_events(agents) {
  }

  std::atomic<uint64_t> events{0};
  std::atomic<uint64_t> decode_errors{0};
  std::atomic<uint64_t> failures{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> dead_letters{0};
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> late_events{0};    ///< too late for their windows (windowed tables)
  std::atomic<uint64_t> windows_closed{0}; ///< windows of windowed tables closed
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> restored_records{0};
  std::atomic<int64_t> assigned{0};      ///< topic partitions currently assigned
  std::atomic<int64_t> rebalances{0};
  std::atomic<int64_t> commits{0};
  std::atomic<int64_t> aborts{0};        ///< exactly-once: transactions aborted
  std::atomic<int64_t> idle_commits{0};  ///< exactly-once: commit cycles with nothing to commit
  std::atomic<int64_t> last_commit_ns{0}; ///< steady clock of the last commit
  std::atomic<int64_t> restarts{0};      ///< partition pipelines restarted after a failure
  /// Table reads that found the local store untrustworthy (a RocksDB read error, or a
  /// stored value that does not decode): each restarts its partition with the store rebuilt.
  std::atomic<uint64_t> store_errors{0};
  std::atomic<int64_t> standby_partitions{0}; ///< table partitions kept warm here for others
  std::atomic<uint64_t> standby_records{0};   ///< changelog records applied to them
  std::atomic<int64_t> standby_handovers{0};  ///< warm copies taken over by a local shard
  /// Changelog records the furthest-behind copy lacks (from the fetched end offsets, so
  /// transaction markers count too): what a failover to it would still restore.
  std::atomic<int64_t> standby_lag{0};
  /// Records of global tables' topics applied to them (all tables), and those skipped
  /// because the table's codecs refused them.
  std::atomic<uint64_t> global_records{0};
  std::atomic<uint64_t> global_skipped{0};
  /// Records the broker did not take (delivery reports with an error; aborted
  /// transactions' purged records do not count).
  std::atomic<uint64_t> produce_errors{0};
  /// Events processed per agent, indexed as the topology's `agents`.
  std::vector<std::atomic<uint64_t>> agent_events;
  /// Assigned partitions whose pipeline is processing (its tables recovered): with
  /// `assigned`, `rebalancing` and `joined`, what `/ready` answers.
  std::atomic<int64_t> running_pipelines{0};
  std::atomic<bool> joined{false};        ///< the group consumer got its first assignment
  std::atomic<bool> rebalancing{false};   ///< inside a rebalance callback
  /// The largest mailbox an agent found when it took a batch, since the last `read_mailbox_peak`.
  std::atomic<uint64_t> agent_mailbox_peak{0};

  duration_histogram batch_duration;      ///< an agent's batch, taken to delivered to the producer
  duration_histogram event_latency;       ///< per event: processed − its Kafka timestamp
  duration_histogram commit_duration;     ///< an offset commit or a transaction commit
  duration_histogram rebalance_duration;  ///< one rebalance callback (drain, commit, start)
  partition_gauges consumer_lag;          ///< source partitions: high watermark − processed
  partition_gauges restore_remaining;     ///< changelog partitions restoring: records left

  /// Raises `agent_mailbox_peak` to `n`.
  void note_mailbox(uint64_t n) noexcept {
    auto cur = agent_mailbox_peak.load(std::memory_order_relaxed);
    while (n > cur && !agent_mailbox_peak.compare_exchange_weak(cur, n, std::memory_order_relaxed))
      ;
  }

  /// `agent_mailbox_peak`, reset.
  uint64_t read_mailbox_peak() noexcept {
    return agent_mailbox_peak.exchange(0, std::memory_order_relaxed);
  }
};

} // namespace mephisto
