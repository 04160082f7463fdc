#pragma once

#include <cstdint>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "mephisto/actors/env.hpp"
#include "mephisto/actors/messages.hpp"
#include "mephisto/actors/protocols.hpp"

namespace mephisto {

/// State of the worker's top supervisor, which turns rebalances into actors.
///
/// `assign` (from the group consumer's rebalance callback): per topic partition, the
/// table shards its agents need (spawned once per table partition and shared, e.g. by two
/// agents on co-partitioned topics) and a partition supervisor. `revoke`: drains those
/// partitions, closes shards nobody uses any more and answers with the offsets to commit.
/// Every child is linked. A failed partition pipeline restarts after a backoff from its
/// last committed offset, its tables restored (at-least-once), or aborts the transaction
/// and rewinds every partition (exactly-once). Any other failure stops the manager, which
/// the worker turns into a clean shutdown with an error exit.
struct partition_manager_state {
  static inline const char* name = "mephisto.partition_manager";

  struct shard_entry {
    table_shard_actor shard;
    int users = 0;
  };

  /// Recent failures of one partition, for the restart backoff.
  struct failure_history {
    int count = 0;
    std::chrono::steady_clock::time_point last{};
  };

  env_ptr env;
  group_consumer_actor consumer;                ///< from `assign`
  standby_actor standby;                        ///< standby replicas (may be null)
  /// Exactly-once: the `pause` being answered (a partition failing meanwhile ends it).
  std::shared_ptr<caf::typed_response_promise<final_offsets>> pause;
  std::map<topic_partition, partition_supervisor_actor> pipelines;
  std::set<topic_partition> restarting;         ///< failed, waiting out their backoff
  std::map<topic_partition, failure_history> failures;
  bool txn_poisoned = false;                    ///< exactly-once: a partition failed
  /// Exactly-once: rewinds so far. A failure asks the consumer to rewind generation N; a
  /// request for an older generation than the last rewind is stale and ignored.
  uint64_t generation = 0;
  std::set<caf::actor_addr> dropped;            ///< pipelines told to go: exits ignored
  std::map<std::pair<uint32_t, int32_t>, shard_entry> shards;  ///< (table, partition)
};

/// Spawns as `spawn(partition_manager, env, standby)`; `standby` (may be null) is handed to
/// the table shards, which take their warm copies from it. Its interface is
/// `partition_manager_actor` (protocols.hpp).
partition_manager_actor::behavior_type
partition_manager(partition_manager_actor::stateful_pointer<partition_manager_state> self,
                  env_ptr env, standby_actor standby);

} // namespace mephisto
