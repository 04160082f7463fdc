#pragma once

// The topic writer: how a user's actor writes to a declared topic (see `topic_writer`).
// Get one from `worker::writer(topic)`.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
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

/// Asks a topic writer to produce one record with key `key` (the Java-compatible murmur2
/// partitioner picks the partition) and value `value`.
template <class K, class V>
struct write_request {
  K key;
  V value;
};

/// Where Kafka stored a record: the answer to a `write_request`.
struct record_position {
  int32_t partition = -1;
  int64_t offset = -1;
};

/// Asks a topic writer to produce many records (key, value) at once: one message for the
/// lot, the way to write at the producer's speed.
template <class K, class V>
struct write_batch {
  std::vector<std::pair<K, V>> records;
};

/// The answer to a `write_batch`: every record of it is acknowledged by Kafka.
struct batch_written {
  uint64_t records = 0;
};

/// What a topic writer holds now: the answer to `caf::get_atom`.
struct writer_status {
  uint64_t in_flight = 0;    ///< records in the producer, not yet acknowledged
  uint64_t waiting = 0;      ///< accepted requests waiting for room (`max_in_flight`)
  uint64_t acknowledged = 0; ///< records Kafka acknowledged so far
  uint64_t failed = 0;       ///< requests answered with an error so far
};

/// A declared topic's writer. Messages, from any local actor:
/// - `write_request<K, V>`: answered with the `record_position` once Kafka acknowledged
///   the record;
/// - `write_batch<K, V>`: answered with `batch_written` once Kafka acknowledged all of its
///   records;
/// - `caf::get_atom`: answered with the writer's `writer_status`.
///
/// A record that fails for good, or a worker that stops, answers with an error instead
/// (a batch fails as a whole; some of its records may be written). At most
/// `max_in_flight` records of one writer are in the producer at a time (a larger batch
/// goes alone); further requests wait in the writer, their answers delayed, so a
/// requester that waits for its answers (a window of requests) never grows any mailbox
/// without bound. Keep that window small (CAF 0.17 finds a response's handler by a
/// linear search over the requester's outstanding requests): batches, not thousands of
/// single requests, for throughput.
template <class K, class V>
using topic_writer = caf::typed_actor<
  typename caf::replies_to<write_request<K, V>>::template with<record_position>,
  typename caf::replies_to<write_batch<K, V>>::template with<batch_written>,
  caf::replies_to<caf::get_atom>::with<writer_status>>;

namespace detail {

/// The Kafka acknowledgement of a writer's job (all its records), from the producer's
/// delivery thread to the writer actor. `error` empty: all written; partition and offset
/// are the last record's.
struct write_ack {
  uint64_t id = 0;
  int32_t partition = -1;
  int64_t offset = -1;
  std::string error;
};

/// Tells a writer that waited for producer queue space to try again.
using writer_retry_atom = caf::atom_constant<caf::atom("wretry")>;

/// The Kafka side of one topic writer: enqueues encoded records of one topic in the
/// worker's own writer producer. A job (the records of one request) is begun, produced
/// record by record, then sealed; its `write_ack` comes to `ack_to` once Kafka
/// acknowledged every record. Owned by one writer actor (not thread-safe); keeps the
/// worker's shared state alive until the actor is gone.
class writer_core {
public:
  enum class status { queued, queue_full, failed };

  /// A job being produced (owned by the producer's delivery accounting).
  class job;

  virtual ~writer_core();

  virtual job* begin(uint64_t id, const caf::actor& ack_to) = 0;

  /// Record headers (name, value).
  using headers = std::vector<std::pair<std::string, std::string>>;

  /// Enqueues one record of `j` (with `hdrs` unless null). `failed` fills `why` and marks
  /// the job failed.
  virtual status produce(job* j, const std::string& key, const std::string& value,
                         std::string& why, const headers* hdrs = nullptr) = 0;

  /// Every record of `j` is enqueued (or it failed): its ack may come now.
  virtual void seal(job* j) = 0;

  /// The worker's actor: the writer ends with it.
  virtual const caf::actor& worker_actor() const = 0;

  /// The topic's name on the broker, for errors.
  virtual const std::string& topic_name() const = 0;
};

/// One request inside the writer: its encoded records and how far they are produced.
struct writer_job {
  caf::response_promise answer;
  std::vector<std::pair<std::string, std::string>> records;
  bool single = false;        ///< a `write_request`: answered with its record_position
  size_t produced = 0;
  size_t reserved = 0;        ///< records counted in `in_flight` since it began
  writer_core::job* in_kafka = nullptr;
  std::string why;            ///< a record that failed to enqueue
};

struct topic_writer_state {
  static inline const char* name = "mephisto.topic_writer";

  std::shared_ptr<writer_core> core;
  size_t max_in_flight = 1000;  ///< records
  size_t in_flight = 0;         ///< records of the jobs in `sent`
  uint64_t next_id = 0;
  std::unordered_map<uint64_t, writer_job> sent; ///< sealed, waiting for their ack
  std::deque<writer_job> waiting;                ///< the front may be partly produced
  bool retry_scheduled = false;
  uint64_t acknowledged = 0;
  uint64_t failed = 0;
};

using writer_self = caf::stateful_actor<topic_writer_state>*;

/// Moves waiting jobs into Kafka while there is room (defined in the library).
void writer_pump(writer_self self);

/// Answers a job's ack (defined in the library).
void writer_acked(writer_self self, write_ack& ack);

/// Fails every job: the worker stopped (defined in the library).
void writer_stop(writer_self self);

template <class K, class V>
caf::behavior topic_writer_actor(writer_self self, std::shared_ptr<writer_core> core,
                                 size_t max_in_flight) {
  auto& st = self->state;
  st.core = std::move(core);
  st.max_in_flight = std::max<size_t>(1, max_in_flight);
  self->monitor(st.core->worker_actor());
  self->set_down_handler([self](caf::down_msg&) { writer_stop(self); });
  auto accept = [self](writer_job job) {
    job.answer = self->make_response_promise();
    self->state.waiting.push_back(std::move(job));
    writer_pump(self);
  };
  return {
    [accept](write_request<K, V>& req) {
      writer_job job;
      job.single = true;
      job.records.resize(1);
      codec<K>::encode(req.key, job.records[0].first);
      codec<V>::encode(req.value, job.records[0].second);
      accept(std::move(job));
    },
    [accept](write_batch<K, V>& req) {
      writer_job job;
      job.records.resize(req.records.size());
      for (size_t i = 0; i < req.records.size(); ++i) {
        codec<K>::encode(req.records[i].first, job.records[i].first);
        codec<V>::encode(req.records[i].second, job.records[i].second);
      }
      accept(std::move(job));
    },
    [self](write_ack& ack) { writer_acked(self, ack); },
    [self](writer_retry_atom) {
      self->state.retry_scheduled = false;
      writer_pump(self);
    },
    [self](caf::get_atom) {
      auto& s = self->state;
      uint64_t waiting = s.waiting.size();
      return writer_status{s.in_flight, waiting, s.acknowledged, s.failed};
    },
  };
}

} // namespace detail

} // namespace mephisto

// Local-only messages (never sent to another node).
namespace caf {
template <class K, class V>
struct allowed_unsafe_message_type<mephisto::write_request<K, V>> : std::true_type {};
template <class K, class V>
struct allowed_unsafe_message_type<mephisto::write_batch<K, V>> : std::true_type {};
} // namespace caf
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mephisto::record_position)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mephisto::batch_written)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mephisto::writer_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mephisto::detail::write_ack)
