#pragma once

// Subscriptions: how a user's actor receives the records of a declared topic (see
// `record_batch`). Start one with `worker::subscribe(topic, actor)`.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>

#include "mephisto/codec.hpp"
#include "mephisto/error.hpp"

namespace mephisto {

/// One record of a subscribed topic, decoded.
template <class K, class V>
struct record {
  K key;
  V value;
  int32_t partition = -1;
  int64_t offset = -1;
  int64_t timestamp = -1; ///< ms since the epoch, -1 if unknown
};

/// What a subscriber receives: records of one topic, in offset order per partition. It
/// comes as a request: when the subscriber's handler (`[](record_batch<K, V>& b) {...}`,
/// returning nothing) returns, the subscription gets its credit back and may send the next
/// batch. A subscriber that handles batches slower than they come holds back only its own
/// subscription: at `max_in_flight` unanswered batches it stops reading, its consumer stops
/// fetching once librdkafka's bounded queue is full, and the records wait in Kafka. Nothing
/// is dropped (unless the broker's retention deletes records the subscriber has not read).
template <class K, class V>
struct record_batch {
  std::string topic;               ///< the topic's name on the broker
  std::vector<record<K, V>> records;
};

/// Where a subscription starts reading.
enum class subscribe_from {
  latest,   ///< records written after the subscription started
  earliest, ///< every record the broker still has
};

/// How a subscription delivers.
struct subscription_options {
  subscribe_from from = subscribe_from::latest;
  size_t batch_size = 500;     ///< records per `record_batch` at most
  size_t max_in_flight = 2;    ///< batches sent and not yet handled by the subscriber
};

namespace detail {

/// Tells a subscription that its consumer has records.
using subscription_wake_atom = caf::atom_constant<caf::atom("swake")>;

/// The Kafka side of one subscription: a consumer of every partition of one topic,
/// outside the consumer group (read_committed), whose queue wakes the subscription actor
/// with `subscription_wake_atom` when records arrive. `fetch` never blocks. Owned by one
/// subscription actor; closed (on a thread of its own) when destroyed.
class subscription_core {
public:
  /// One raw record: key (null: none), value (null: none), partition, offset, timestamp.
  struct raw {
    const std::string_view* key;
    const std::string_view* value;
    int32_t partition;
    int64_t offset;
    int64_t timestamp;
  };

  virtual ~subscription_core();

  /// Starts waking `target`.
  virtual void start(const caf::actor& target) = 0;

  /// Hands up to `max` waiting records to `fn` (in offset order per partition); returns
  /// how many it handed. Consumer errors are logged, never handed.
  virtual size_t fetch(size_t max, const std::function<void(const raw&)>& fn) = 0;

  /// Allows the next wake-up (call when `fetch` returned fewer than asked).
  virtual void rearm() = 0;

  virtual const caf::actor& worker_actor() const = 0;

  virtual const std::string& topic_name() const = 0;
};

template <class K, class V>
struct subscription_state {
  static inline const char* name = "mephisto.subscription";
  std::shared_ptr<subscription_core> core; ///< not shared: only this actor uses it
  caf::actor subscriber;
  subscription_options opts;
  size_t in_flight = 0;
  uint64_t undecodable = 0;
};

template <class K, class V>
void subscription_pull(caf::stateful_actor<subscription_state<K, V>>* self) {
  auto& st = self->state;
  while (st.core && st.in_flight < st.opts.max_in_flight) {
    record_batch<K, V> batch;
    batch.topic = st.core->topic_name();
    batch.records.reserve(st.opts.batch_size);
    std::string why;
    auto n = st.core->fetch(st.opts.batch_size, [&](const subscription_core::raw& r) {
      record<K, V> rec;
      rec.partition = r.partition;
      rec.offset = r.offset;
      rec.timestamp = r.timestamp;
      bool ok = r.value != nullptr && codec<V>::decode(*r.value, rec.value, why)
                && codec<K>::decode(r.key ? *r.key : std::string_view{}, rec.key, why);
      if (ok)
        batch.records.push_back(std::move(rec));
      else
        ++st.undecodable; // counted (`undecodable`), not delivered
    });
    if (!batch.records.empty()) {
      ++st.in_flight;
      self->request(st.subscriber, caf::infinite, std::move(batch))
        .then(
          [self]() { // the subscriber's handler returned
            --self->state.in_flight;
            subscription_pull(self);
          },
          [self](caf::error&) { self->quit(); }); // the subscriber is gone
    }
    if (n < st.opts.batch_size) {
      st.core->rearm();
      return;
    }
  }
}

template <class K, class V>
caf::behavior subscription_actor(caf::stateful_actor<subscription_state<K, V>>* self,
                                 std::shared_ptr<subscription_core> core, caf::actor subscriber,
                                 subscription_options opts) {
  auto& st = self->state;
  st.core = std::move(core);
  st.subscriber = std::move(subscriber);
  st.opts = opts;
  st.opts.batch_size = std::max<size_t>(1, st.opts.batch_size);
  st.opts.max_in_flight = std::max<size_t>(1, st.opts.max_in_flight);
  self->monitor(st.core->worker_actor());
  self->monitor(st.subscriber);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  st.core->start(caf::actor{self});
  return {
    [self](subscription_wake_atom) { subscription_pull(self); },
  };
}

} // namespace detail

} // namespace mephisto

// Local-only messages (never sent to another node).
namespace caf {
template <class K, class V>
struct allowed_unsafe_message_type<mephisto::record_batch<K, V>> : std::true_type {};
} // namespace caf
