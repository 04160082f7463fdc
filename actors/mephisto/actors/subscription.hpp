#pragma once

#include <memory>

#include <caf/actor.hpp>

#include "mephisto/actor_api.hpp"
#include "mephisto/actors/env.hpp"

namespace mephisto {

/// A consumer of every partition of `topic` (from its end, or its beginning), for one
/// subscription actor (see `detail::subscription_core`). Fails on a Kafka error.
expected<std::shared_ptr<detail::subscription_core>>
make_subscription_core(env_ptr env, caf::actor worker, uint32_t topic,
                       const subscription_options& opts);

} // namespace mephisto
