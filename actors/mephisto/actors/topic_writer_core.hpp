#pragma once

#include <memory>

#include <caf/actor.hpp>

#include "mephisto/actors/env.hpp"
#include "mephisto/kafka/producer.hpp"
#include "mephisto/topic_writer.hpp"

namespace mephisto {

/// The Kafka side of a writer of `topic` through `producer` (see `detail::writer_core`).
std::shared_ptr<detail::writer_core> make_writer_core(env_ptr env, kafka::producer* producer,
                                                      uint32_t topic, caf::actor worker);

} // namespace mephisto
