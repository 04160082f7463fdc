#pragma once

#include <caf/typed_actor.hpp>

#include "mephisto/actors/env.hpp"
#include "mephisto/actors/messages.hpp"
#include "mephisto/kafka/record_sink.hpp"

namespace mephisto {

/// The timers that run on every instance (`timer_options::on_leader = false`, and crontab
/// timers likewise): `topology::instance_timers`, each instance running its own copy,
/// whatever partitions it holds.
///
/// One event-based actor per worker. It ticks itself on the wall clock (the test driver
/// ticks it instead, with `tick_atom`), runs what is due with a context of its own (no
/// tables; global tables readable), and produces what the timers sent through `sink`: the
/// worker's non-transactional producer, so these sends are at-least-once even under
/// exactly-once (they belong to no partition's transaction). A timer that throws is logged
/// and its sends dropped; it runs again at its next time. A full producer queue is retried
/// at the next tick, before anything new runs; the timers wait meanwhile (nothing queues
/// without bound).
using instance_timers_actor = caf::typed_actor<caf::reacts_to<tick_atom>>;

instance_timers_actor::behavior_type
instance_timers(instance_timers_actor::pointer self, env_ptr env, kafka::record_sink* sink);

} // namespace mephisto
