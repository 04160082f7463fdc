#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "mephisto/actors/env.hpp"
#include "mephisto/actors/messages.hpp"
#include "mephisto/actors/protocols.hpp"

namespace mephisto {

/// One assigned topic partition to run.
struct pipeline_spec {
  uint32_t topic = 0;
  int32_t partition = 0;
  partition_queue queue;                                ///< owned from here on
  std::vector<std::pair<uint32_t, table_shard_actor>> shards;  ///< tables its agents use
  group_consumer_actor progress_sink;
};

/// Where a partition pipeline stands. It starts `recovering`; every other phase is reached
/// only by the transitions listed here.
enum class pipeline_phase {
  recovering, ///< waiting for its table shards; `pause` -> held, all ready -> running
  held,       ///< exactly-once: paused before it started; `resume` -> recovering or running
  running,    ///< source and agents spawned; `pause` -> paused
  paused,     ///< exactly-once: a transaction is committing; `resume` -> running
  draining,   ///< revoked: the source halted, the agents finish; ends when they answered
  stopping,   ///< stopping every child (one failed, or a rewind); ends once all are gone
};

/// State of the supervisor of one topic partition's pipeline.
///
/// It waits until every table shard its agents need has recovered, then spawns one agent
/// per agent of the topic and the source (all linked: a child that dies takes the
/// pipeline down, and the partition manager sees it). `drain` stops the source, lets the
/// agents finish and deliver their in-flight batches, and answers with the offset to
/// commit. Its phases are `pipeline_phase`. One actor: no locks.
struct partition_supervisor_state {
  static inline const char* name = "mephisto.partition_supervisor";

  ~partition_supervisor_state() {
    if (queue.queue != nullptr)
      rd_kafka_queue_destroy(queue.queue);
    if (counted_running)
      env->report.stats->running_pipelines.fetch_sub(1, std::memory_order_relaxed);
  }

  env_ptr env;
  pipeline_spec spec;
  std::string where;
  partition_queue queue;           ///< until the source takes it
  std::vector<agent_actor> agents;
  source_actor source;
  size_t waiting_for_shards = 0;
  pipeline_phase phase = pipeline_phase::recovering;
  bool counted_running = false;    ///< counted in the stats' `running_pipelines`
  caf::error stop_reason;          ///< stopping: quits with it once the children are gone
  /// Stopping: answered once the children are gone.
  std::vector<caf::typed_response_promise<caf::ok_atom>> rewind_waiters;
  caf::typed_response_promise<final_offset> drain_promise;
};

/// Spawns as `spawn(partition_supervisor, env, spec)`; its interface is
/// `partition_supervisor_actor` (protocols.hpp).
partition_supervisor_actor::behavior_type
partition_supervisor(partition_supervisor_actor::stateful_pointer<partition_supervisor_state> self,
                     env_ptr env, pipeline_spec spec);

} // namespace mephisto
