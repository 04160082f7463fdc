#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "mephisto/actors/messages.hpp"
#include "mephisto/actors/protocols.hpp"

namespace mephisto {

/// Wakes a source when librdkafka puts records into its empty partition queue. Shared by
/// the source actor (owner) and librdkafka's queue callback; at most one wake is pending.
struct source_wakeup {
  source_actor target;
  std::atomic<bool> pending{false};
};

/// State of the source of one topic partition.
///
/// The source owns the partition's queue (taken from the group consumer with forwarding
/// off). librdkafka calls back when the queue goes from empty to non-empty; the source then
/// drains it with zero-timeout reads, so no CAF worker thread ever blocks. Each batch
/// (`batch_size` records at most, zero copy) goes to every agent of the topic. Flow
/// control is by credit: at most `batches_in_flight` unacknowledged batches per agent;
/// without credit the source stops reading and librdkafka stops fetching once its own
/// bounded queue is full.
struct source_state {
  static inline const char* name = "mephisto.source";

  ~source_state();

  /// Stops the callback and gives the queue back to librdkafka (idempotent).
  void release_queue();

  std::string where;                     ///< "topic [p]" for messages
  rd_kafka_queue_t* queue = nullptr;
  std::vector<agent_actor> agents;
  std::vector<int32_t> in_flight;        ///< per agent
  int32_t max_in_flight = 4;
  size_t batch_size = 1000;
  source_wakeup* wakeup = nullptr;
  std::vector<rd_kafka_message_t*> buf;
  bool halted = false;
  bool paused = false;                   ///< exactly-once: a transaction is committing
  int64_t next_offset = -1;              ///< after the last record handed out (-1: none)
};

/// Spawns as `spawn(source, where, queue, agents, batch_size, max_in_flight)`; its
/// interface is `source_actor` (protocols.hpp).
source_actor::behavior_type source(source_actor::stateful_pointer<source_state> self,
                                   std::string where, partition_queue queue,
                                   std::vector<agent_actor> agents, int32_t batch_size,
                                   int32_t max_in_flight);

} // namespace mephisto
