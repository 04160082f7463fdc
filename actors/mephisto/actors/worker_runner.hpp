#pragma once

#include <vector>

#include <caf/actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "mephisto/actors/protocols.hpp"

namespace mephisto {

/// The running worker as an actor (`worker::as_actor`). Once told which (`watch`), it
/// watches the group consumer and the partition manager, stops the one when the other
/// ended, and ends once both did, with the manager's error if it failed (else normally).
/// Halting it halts the consumer, which revokes everything first (a clean stop). It also
/// hands the runtime's lifecycle events to their subscribers, `stopped` last.
/// Its interface is `worker_actor` (protocols.hpp). One actor: no locks.
worker_actor::behavior_type worker_runner(worker_actor::pointer self,
                                          std::vector<caf::actor> subscribers);

} // namespace mephisto
