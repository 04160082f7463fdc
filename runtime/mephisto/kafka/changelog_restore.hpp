#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "mephisto/error.hpp"
#include "mephisto/kafka/config.hpp"
#include "mephisto/partition_gauges.hpp"
#include "mephisto/store.hpp"

namespace mephisto::kafka {

/// One table partition to rebuild from its changelog.
struct restore_job {
  std::string bootstrap;
  settings client_settings;      ///< the user's consumer properties
  std::string changelog;         ///< topic name
  int32_t partition = 0;
  std::string table;             ///< for messages
  std::chrono::milliseconds stall_timeout{30000};
  const std::atomic<bool>* cancel = nullptr;  ///< set by the shard to give up early
  /// Where to show the records left (keyed by changelog and partition) while it runs;
  /// the entry goes when the restore ends. Null: nowhere.
  partition_gauges* remaining = nullptr;
};

/// What a restore did.
struct restore_stats {
  uint64_t records = 0;
  int64_t start = 0;             ///< offset the restore began at (a local store's offset)
  std::string discarded;         ///< why a local store was thrown away, if it was
  int64_t high_watermark = 0;
  double seconds = 0;
  uint64_t fetcher_wakes = 0;    ///< times the reader woke librdkafka's parked fetches
};

/// Reads the changelog partition from the store's offset (0 for a memory store) to its
/// high watermark into `store`
/// with its own, manually assigned consumer (`read_committed`). Blocks: run it on a thread
/// of its own, never on a CAF worker. Never waits forever: a restore that makes no progress
/// for `stall_timeout` (the high watermark is re-read first) fails with
/// `errc::recovery_failed`, as does a record the table's codecs cannot decode.
expected<restore_stats> restore_changelog(const restore_job& job, store_base& store);

} // namespace mephisto::kafka
