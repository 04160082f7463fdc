#pragma once

// The steps of the agent actor (agent.hpp) shared by its two source files: agent.cpp
// (batches, the user function, bookkeeping) and agent_produce.cpp (producing). Each runs
// inside the agent's own message handlers.

#include <cstddef>
#include <cstdint>

#include <caf/error.hpp>

#include "mephisto/actors/agent.hpp"

namespace mephisto::agent_steps {

using self_ptr = agent_actor::stateful_pointer<agent_state>;

/// Logs `err`, fails a pending drain with it and stops the agent.
void fail(self_ptr self, caf::error err);

/// The current batch is produced: gives the leases back, returns the credit and starts
/// the next batch.
void finish(self_ptr self);

/// Produces the current batch's outputs and dead letters from where it stopped; finishes
/// the batch once all are enqueued (a full queue retries 1 ms later).
void produce(self_ptr self);

/// At-least-once: produces the staged changelog records of the oldest batches whose
/// outputs are delivered, in batch order.
void produce_changelogs(self_ptr self);

/// At-least-once: schedules the next changelog flush (at once while draining).
void schedule_changelogs(self_ptr self);

/// Runs the agent's punctuators that are due, at the end of a batch (before its table
/// changes are taken). Throws `restart_partition` and `store_error` from them.
void punctuate(self_ptr self);

/// When punctuator `p` is next due after `now` (ms since the epoch; INT64_MAX: never).
int64_t next_time(const punctuator& p, int64_t now);

/// How often an idle agent ticks (runs an empty batch): for windowed tables that close on
/// the wall clock and wall-clock punctuators; 0: never.
int64_t tick_period(const agent_state& st);

/// Sends the replies of confirmed batches (seq < `upto`, or == `only`) to the worker actor,
/// which routes each to its asker.
void send_replies(self_ptr self, uint64_t upto, uint64_t only);

/// Crash tests: a failure injected at an offset of this batch stops the agent, as a
/// `restart_partition` would, or (a crash) by an exception that escapes the handler.
/// True when it did.
bool inject_failure(self_ptr self);

} // namespace mephisto::agent_steps
