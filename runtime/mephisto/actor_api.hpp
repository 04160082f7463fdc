#pragma once

// What a user's own actors use to talk to a running worker: typed handles, each a
// `caf::typed_actor` (or, for subscriptions, a documented message) living in the worker's
// actor system. They end, answering what they still hold with an error, when the worker
// stops.
// - `topic_writer<K, V>` (worker::writer): write records, answered once Kafka has them;
// - `record_batch<K, V>` (worker::subscribe): receive a topic's records, on credit;
// - `table_reader<K, V>` (worker::reader): look a key up, routed to its owner.

#include "mephisto/subscription.hpp"
#include "mephisto/table_reader.hpp"
#include "mephisto/topic_writer.hpp"
