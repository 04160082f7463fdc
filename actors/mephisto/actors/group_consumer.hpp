#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include <caf/actor.hpp>
#include <caf/blocking_actor.hpp>

#include <librdkafka/rdkafka.h>

#include "mephisto/actors/env.hpp"
#include "mephisto/actors/messages.hpp"
#include "mephisto/actors/protocols.hpp"

namespace mephisto {

/// The group consumer's data, shared with librdkafka's rebalance callback (its opaque).
/// Created by the worker before the consumer handle (the opaque must exist first), then
/// used only on the group consumer's own thread: the callbacks run inside
/// `rd_kafka_consumer_poll`, which only that thread calls.
struct group_consumer_data {
  env_ptr env;
  partition_manager_actor manager;
  rd_kafka_t* rk = nullptr;                   ///< owned: closed and destroyed at the end
  caf::blocking_actor* self = nullptr;
  std::map<topic_partition, std::vector<int64_t>> progress;  ///< per agent slot
  std::map<topic_partition, int64_t> committed;
  bool manager_down = false;
  caf::error failure;                         ///< exactly-once: the worker must stop
  bool rewind_requested = false;              ///< exactly-once: a partition failed
  int producer_restarts = 0;                  ///< exactly-once: in a row, without a commit
  uint64_t generation = 0;                    ///< exactly-once: the manager's, after the last rewind
  bool stop_requested = false;
  /// When the offset commit in flight began (zero: none), for the commit duration metric.
  std::chrono::steady_clock::time_point commit_started{};
};

/// Body of the group consumer, a blocking actor on a thread of its own that owns the
/// instance's one group-member consumer handle.
///
/// It polls the consumer (rebalances, errors; records never arrive here: every assigned
/// partition's queue is taken by its source) and, every `commit_interval_ms`, commits
/// asynchronously the smallest committable offset reported by the agents of each
/// partition. In the rebalance callback it may block, which is why it has its own
/// thread: on assign it takes the partition queues and has the manager spawn pipelines
/// before fetching starts; on revoke it waits until the manager drained the partitions,
/// commits their final offsets synchronously and only then lets librdkafka hand them on
/// (at-least-once across rebalances). `halt` closes the consumer, which revokes
/// everything the same way. Its messages: `group_consumer_actor` (protocols.hpp); the
/// worker spawns it untyped (a blocking actor) and casts the handle.
void group_consumer(caf::blocking_actor* self, std::shared_ptr<group_consumer_data> data);

/// The rebalance callback to install with `rd_kafka_conf_set_rebalance_cb`; its opaque
/// is the `group_consumer_data`.
void group_rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t* parts, void* opaque);

/// Logs failed asynchronous commits (`rd_kafka_conf_set_offset_commit_cb`).
void group_commit_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                     rd_kafka_topic_partition_list_t* offsets, void* opaque);

} // namespace mephisto
