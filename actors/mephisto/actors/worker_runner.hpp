#pragma once

#include <vector>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>

namespace mephisto {

/// The running worker as an actor (`worker::as_actor`). Once told which (`watch`), it
/// watches the group consumer and the partition manager, stops the one when the other
/// ended, and ends once both did, with the manager's error if it failed (else normally).
/// Halting it halts the consumer, which revokes everything first (a clean stop). It also
/// hands the runtime's lifecycle events to their subscribers, `stopped` last.
///
/// Messages: `(watch_atom, consumer, manager, cluster, reply token)` from the worker once
/// started; `halt_atom` (stop cleanly); `lifecycle_event` from the runtime's actors,
/// forwarded to the subscribers; `(subscribe_atom, actor)`; `(asker_atom, actor)` from an
/// agent asker; `(reply_atom, to, id, value)` from an agent or the cluster, routed to the
/// asker here or, through the cluster, to the instance `to`.
caf::behavior worker_runner(caf::event_based_actor* self, std::vector<caf::actor> subscribers);

} // namespace mephisto
