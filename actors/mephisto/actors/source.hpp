#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "mephisto/actors/messages.hpp"

namespace mephisto {

/// Wakes a source when librdkafka puts records into its empty partition queue. Shared by
/// the source actor (owner) and librdkafka's queue callback; at most one wake is pending.
struct source_wakeup {
  caf::actor target;
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
  std::vector<caf::actor> agents;
  std::vector<int32_t> in_flight;        ///< per agent
  int32_t max_in_flight = 4;
  size_t batch_size = 1000;
  source_wakeup* wakeup = nullptr;
  std::vector<rd_kafka_message_t*> buf;
  bool halted = false;
  bool paused = false;                   ///< exactly-once: a transaction is committing
  int64_t next_offset = -1;              ///< after the last record handed out (-1: none)
};

/// The source's interface. It sends `(batch_atom, kafka::batch_ptr)` to each of its agents.
/// - `wake_atom`: from librdkafka's queue callback (and from itself at start): records
///   may wait; it reads while it has credit.
/// - `(credit_atom, int32_t slot)`: from the agent at `slot`: it is done with a batch.
/// - `pause_atom` -> `int64_t`: exactly-once, from the partition supervisor: hand out
///   nothing more; the answer is the offset after the last record handed out (-1: none).
/// - `resume_atom`: from the partition supervisor: hand out again.
/// - `halt_atom` -> `ok_atom`: from the partition supervisor: stop reading, give the queue
///   back and end (batches already sent stay with the agents, who drain them).
using source_actor = caf::typed_actor<caf::reacts_to<wake_atom>,
                                      caf::reacts_to<credit_atom, int32_t>,
                                      caf::replies_to<pause_atom>::with<int64_t>,
                                      caf::reacts_to<resume_atom>,
                                      caf::replies_to<halt_atom>::with<caf::ok_atom>>;

/// Spawns as `spawn(source, where, queue, agents, batch_size, max_in_flight)`.
source_actor::behavior_type source(source_actor::stateful_pointer<source_state> self,
                                   std::string where, partition_queue queue,
                                   std::vector<caf::actor> agents, int32_t batch_size,
                                   int32_t max_in_flight);

} // namespace mephisto
