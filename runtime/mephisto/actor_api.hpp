#pragma once

// What a user's own actors use to talk to a running worker: typed handles, each a
// `caf::typed_actor` whose messages are documented below. Get them from
// `worker::writer(topic)` and `worker::reader(table)`; they live in the worker's actor
// system and end (answering what they still hold with an error) when the worker stops.

#include <chrono>
#include <cstdint>
#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
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

// -- topic writer -------------------------------------------------------------------------

/// Asks a topic writer to produce one record with key `key` (the Java-compatible murmur2
/// partitioner picks the partition) and value `value`.
template <class K, class V>
struct write_request {
  K key;
  V value;
};

/// Where Kafka stored a record: the answer to a `write_request`, sent once the broker
/// acknowledged it.
struct record_position {
  int32_t partition = -1;
  int64_t offset = -1;
};

/// What a topic writer holds now: the answer to `caf::get_atom`.
struct writer_status {
  uint64_t in_flight = 0;    ///< records in the producer, not yet acknowledged
  uint64_t waiting = 0;      ///< accepted requests waiting for room (`max_in_flight`)
  uint64_t acknowledged = 0; ///< records Kafka acknowledged so far
  uint64_t failed = 0;       ///< requests answered with an error so far
};

/// A declared topic's writer. Messages, from any local actor:
/// - `write_request<K, V>`: the answer is the `record_position` once Kafka acknowledged
///   the record, or an error (the record failed for good, the worker stopped). At most
///   `max_in_flight` records of one writer are in the producer at a time; further
///   requests wait in the writer, their answers delayed, so a requester that waits for
///   its answers (a window of requests) never grows any mailbox without bound.
/// - `caf::get_atom`: the answer is the writer's `writer_status`.
template <class K, class V>
using topic_writer = caf::typed_actor<
  typename caf::replies_to<write_request<K, V>>::template with<record_position>,
  caf::replies_to<caf::get_atom>::with<writer_status>>;

// -- table reader -------------------------------------------------------------------------

/// Asks a table reader for the value of `key`.
template <class K>
struct get_request {
  K key;
};

/// A declared table's reader. Message: `get_request<K>` from any local actor; the answer is
/// the decoded value, `std::nullopt` when the key is absent, or an error: `not_ready` while
/// the key's partition recovers (never a stale value), `not_owned` when no live instance
/// holds it, a timeout. Routed through the cluster to the instance that holds the key's
/// partition, as `worker::table_get` is; needs `cluster_listen` on.
template <class K, class V>
using table_reader
  = caf::typed_actor<typename caf::replies_to<get_request<K>>::template with<std::optional<V>>>;

// -- subscriptions ------------------------------------------------------------------------

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

/// Acknowledgement of one produced record, from the producer's delivery thread to the
/// writer actor that produced it (`error` empty: stored at partition/offset).
struct write_ack {
  uint64_t id = 0;
  int32_t partition = -1;
  int64_t offset = -1;
  std::string error;
};

/// Tells a writer that waited for producer queue space to try again.
using writer_retry_atom = caf::atom_constant<caf::atom("wretry")>;

/// A table lookup: the cluster actor's message (secret, table, encoded key, forwarded)
/// answered with (found, encoded value). Shared with the runtime's cluster actor.
using cluster_lookup_atom = caf::atom_constant<caf::atom("lookup")>;

/// The Kafka side of one topic writer: enqueues encoded records of one topic in the
/// worker's producer; each acknowledgement comes back to `ack_to` as a `write_ack`.
/// Owned by one writer actor (not thread-safe); keeps the worker's shared state alive
/// until the actor is gone.
class writer_core {
public:
  enum class status { queued, queue_full, failed };

  virtual ~writer_core();

  /// Enqueues one record (`key == nullptr`: no key). `failed` fills `why`.
  virtual status produce(const std::string* key, const std::string& value, uint64_t id,
                         const caf::actor& ack_to, std::string& why) = 0;

  /// The worker's actor: the writer ends with it.
  virtual const caf::actor& worker_actor() const = 0;

  /// The topic's name on the broker, for errors.
  virtual const std::string& topic_name() const = 0;
};

template <class K, class V>
struct topic_writer_state {
  static inline const char* name = "mephisto.topic_writer";

  struct waiting {
    caf::response_promise answer;
    std::string key;
    std::string value;
  };

  std::shared_ptr<writer_core> core;
  size_t max_in_flight = 1000;
  uint64_t next_id = 0;
  std::unordered_map<uint64_t, caf::response_promise> in_flight;
  std::deque<waiting> queued; ///< accepted requests not yet in the producer
  bool retry_scheduled = false;
  std::string why;
  uint64_t acknowledged = 0;
  uint64_t failed = 0;
};

template <class K, class V>
void writer_pump(caf::stateful_actor<topic_writer_state<K, V>>* self) {
  auto& st = self->state;
  while (!st.queued.empty() && st.in_flight.size() < st.max_in_flight) {
    auto& w = st.queued.front();
    auto id = st.next_id++;
    auto res = st.core->produce(&w.key, w.value, id, caf::actor{self}, st.why);
    if (res == writer_core::status::queue_full) {
      if (!st.retry_scheduled) {
        st.retry_scheduled = true;
        self->delayed_send(self, std::chrono::milliseconds(1), writer_retry_atom::value);
      }
      return;
    }
    if (res == writer_core::status::failed) {
      ++st.failed;
      w.answer.deliver(make_error(errc::produce_failed, st.core->topic_name() + ": " + st.why));
    } else {
      st.in_flight.emplace(id, std::move(w.answer));
    }
    st.queued.pop_front();
  }
}

template <class K, class V>
caf::behavior topic_writer_actor(caf::stateful_actor<topic_writer_state<K, V>>* self,
                                 std::shared_ptr<writer_core> core, size_t max_in_flight) {
  auto& st = self->state;
  st.core = std::move(core);
  st.max_in_flight = max_in_flight;
  self->monitor(st.core->worker_actor());
  self->set_down_handler([self](caf::down_msg&) {
    auto& s = self->state;
    auto err = make_error(errc::stopped, "the worker stopped");
    for (auto& [id, rp] : s.in_flight)
      rp.deliver(err);
    for (auto& w : s.queued)
      w.answer.deliver(err);
    s.in_flight.clear();
    s.queued.clear();
    self->quit();
  });
  return {
    [self](write_request<K, V>& req) {
      auto& s = self->state;
      typename topic_writer_state<K, V>::waiting w{self->make_response_promise(), {}, {}};
      codec<K>::encode(req.key, w.key);
      codec<V>::encode(req.value, w.value);
      s.queued.push_back(std::move(w));
      writer_pump(self);
    },
    [self](write_ack& ack) {
      auto& s = self->state;
      auto it = s.in_flight.find(ack.id);
      if (it == s.in_flight.end())
        return;
      if (ack.error.empty()) {
        ++s.acknowledged;
        it->second.deliver(record_position{ack.partition, ack.offset});
      } else {
        ++s.failed;
        it->second.deliver(
          make_error(errc::produce_failed, s.core->topic_name() + ": " + ack.error));
      }
      s.in_flight.erase(it);
      writer_pump(self);
    },
    [self](writer_retry_atom) {
      self->state.retry_scheduled = false;
      writer_pump(self);
    },
    [self](caf::get_atom) {
      auto& s = self->state;
      return writer_status{s.in_flight.size(), s.queued.size(), s.acknowledged, s.failed};
    },
  };
}

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

template <class K, class V>
struct table_reader_state {
  static inline const char* name = "mephisto.table_reader";
};

template <class K, class V>
caf::behavior table_reader_actor(caf::stateful_actor<table_reader_state<K, V>>* self,
                                 caf::actor cluster, caf::actor worker_actor,
                                 std::string secret, std::string table,
                                 std::chrono::milliseconds timeout) {
  self->monitor(worker_actor);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  return {
    [=](get_request<K>& req) {
      auto rp = self->make_response_promise();
      std::string key;
      codec<K>::encode(req.key, key);
      self->request(cluster, timeout, cluster_lookup_atom::value, secret, table, key, false)
        .then(
          [rp, table](bool found, std::string& bytes) mutable {
            if (!found) {
              rp.deliver(std::optional<V>{});
              return;
            }
            std::optional<V> value{V{}};
            std::string why;
            if (!codec<V>::decode(bytes, *value, why)) {
              rp.deliver(make_error(errc::decode_failed, "table " + table + ": " + why));
              return;
            }
            rp.deliver(std::move(value));
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
    },
  };
}

} // namespace detail

} // namespace mephisto

// Local-only messages (never sent to another node).
namespace caf {
template <class K, class V>
struct allowed_unsafe_message_type<mephisto::write_request<K, V>> : std::true_type {};
template <class K>
struct allowed_unsafe_message_type<mephisto::get_request<K>> : std::true_type {};
template <class K, class V>
struct allowed_unsafe_message_type<mephisto::record_batch<K, V>> : std::true_type {};
template <class V>
struct allowed_unsafe_message_type<std::optional<V>> : std::true_type {};
} // namespace caf
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mephisto::record_position)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mephisto::writer_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mephisto::detail::write_ack)
