#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "mephisto/actors/env.hpp"
#include "mephisto/actors/messages.hpp"
#include "mephisto/actors/source.hpp"

namespace mephisto {

/// One assigned topic partition to run.
struct pipeline_spec {
  uint32_t topic = 0;
  int32_t partition = 0;
  partition_queue queue;                                ///< owned from here on
  std::vector<std::pair<uint32_t, caf::actor>> shards;  ///< tables its agents use
  caf::actor progress_sink;
};

/// State of the supervisor of one topic partition's pipeline.
///
/// It waits until every table shard its agents need has recovered, then spawns one agent
/// per agent of the topic and the source (all linked: a child that dies takes the
/// pipeline down, and the worker's manager sees it). `drain` stops the source, lets the
/// agents finish and deliver their in-flight batches, and answers with the offset to
/// commit. Restarts with backoff and dead letters come with the crash-safety work.
struct partition_supervisor_state {
  static inline const char* name = "mephisto.partition_supervisor";

  ~partition_supervisor_state() {
    if (queue.queue != nullptr)
      rd_kafka_queue_destroy(queue.queue);
  }

  env_ptr env;
  pipeline_spec spec;
  std::string where;
  partition_queue queue;           ///< until the source takes it
  std::vector<caf::actor> agents;
  source_actor source;
  size_t waiting_for_shards = 0;
  bool started = false;
  bool draining = false;
  bool paused = false;             ///< exactly-once: a transaction is committing
  bool stopping = false;           ///< stopping every child (one failed, or a rewind)
  caf::error stop_reason;          ///< quits with it once the children are gone
  std::vector<caf::response_promise> rewind_waiters;  ///< answered once they are gone
  caf::response_promise drain_promise;
  size_t drains_missing = 0;
  int64_t drained_offset = -1;
};

caf::behavior partition_supervisor(caf::stateful_actor<partition_supervisor_state>* self,
                                   env_ptr env, pipeline_spec spec);

} // namespace mephisto
