#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "mephisto/error.hpp"
#include "mephisto/kafka/config.hpp"
#include "mephisto/kafka/delivery.hpp"
#include "mephisto/kafka/record_sink.hpp"

namespace mephisto::kafka {

/// The worker's one librdkafka producer: idempotent, Java-compatible `murmur2_random`
/// partitioner, topic handles made once at start.
///
/// Owned by the worker. `send` is thread-safe and never blocks (librdkafka's queue is
/// bounded: a full queue is reported, and the caller retries later). A dedicated poll
/// thread serves delivery reports, which release the records' `delivery_batch`.
class producer final : public record_sink {
public:
  producer() = default;
  producer(const producer&) = delete;
  producer& operator=(const producer&) = delete;
  ~producer() override;

  /// Connects to `bootstrap` and prepares handles for `topics` (index = position). With a
  /// `transactional_id` the producer is transactional: `start` fences older producers of
  /// that id (aborting their open transaction) and begins the first transaction.
  ///
  /// `max_message_bytes` (per topic, -1: unknown) are the topics' own limits
  /// (`max.message.bytes`, see admin.hpp). With the producer's `message.max.bytes` they give
  /// `record_limits()`; the smallest also bounds `batch.size`, so that a batch of small
  /// records never exceeds a topic's limit (the broker would refuse the whole batch).
  caf::error start(const std::string& bootstrap, const std::vector<std::string>& topics,
                   const settings& extra, const std::string& transactional_id = {},
                   const std::vector<int64_t>& max_message_bytes = {});

  /// Bytes of a record's framing in a batch of its own (batch header 61, record header at
  /// most 21, rounded up): what a record needs beyond its key and value.
  static constexpr uint32_t record_overhead = 100;

  /// Per topic (index as in `start`): the largest key + value size (no headers) a record
  /// may have to be accepted by the producer and the topic, i.e. the smaller of
  /// `message.max.bytes` and the topic's `max.message.bytes`, less `record_overhead`.
  /// Valid after `start`; checked before producing, so that a record too large is refused
  /// at once instead of failing its whole batch later.
  const std::vector<uint32_t>& record_limits() const noexcept { return record_limits_; }

  /// How a transaction ended.
  enum class txn_result {
    committed,
    aborted,  ///< aborted (abortable error): rewind to the committed offsets and go on
    fatal,    ///< fenced or broken: this producer cannot go on
  };

  /// Exactly-once: adds the consumer offsets `offsets` (may be empty) to the open
  /// transaction, commits it and begins the next one. On an abortable error it aborts
  /// the transaction and begins the next one. `why` says what went wrong. Blocks (up to
  /// `timeout_ms` per step): call it from a thread of its own.
  txn_result commit_transaction(const rd_kafka_topic_partition_list_t* offsets,
                                rd_kafka_t* consumer, int timeout_ms, std::string& why);

  /// Exactly-once: aborts the open transaction and begins the next one. False (with
  /// `why`) when the producer cannot go on.
  bool abort_transaction(int timeout_ms, std::string& why);

  bool transactional() const noexcept { return transactional_; }

  /// Exactly-once, after a fatal transaction error that is not a takeover, e.g. the
  /// coordinator timed the transaction out while the broker was unreachable and bumped the
  /// producer's epoch: drops this handle with everything it still holds (delivery reports
  /// fail) and starts anew as `start` did, with the same transactional id (fencing the old
  /// epoch). Only while nothing produces (every pipeline dropped). Blocks.
  caf::error restart();

  /// Enqueues one record. `partition < 0`: the partitioner chooses from the key (random
  /// when `key == nullptr`); `timestamp` in ms since the epoch, 0 for now. Returns
  /// RD_KAFKA_RESP_ERR__QUEUE_FULL when the caller has to back off; any other error is
  /// final for this record. `batch` is released on delivery.
  rd_kafka_resp_err_t send(uint32_t topic, int32_t partition, const void* key,
                           size_t key_size, const void* value, size_t value_size,
                           int64_t timestamp, delivery_batch* batch) noexcept override;

  /// Enqueues a record with headers (name, value), e.g. a dead letter and its reason.
  /// Same contract as `send`.
  rd_kafka_resp_err_t
  send_with_headers(uint32_t topic, const void* key, size_t key_size, const void* value,
                    size_t value_size,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    delivery_batch* batch) noexcept override;

  /// Waits up to `timeout_ms` for every queued record to be delivered. Returns false on
  /// timeout. For shutdown, never for the hot path.
  bool flush(int timeout_ms);

  /// Stops the poll thread and destroys the handle (after a flush).
  void stop(int flush_timeout_ms = 10000);

  rd_kafka_t* handle() const noexcept { return rk_.get(); }

  /// Records that failed for good since start.
  uint64_t failed() const noexcept { return failed_.load(std::memory_order_relaxed); }

  /// Also counts every record that failed for good in `*sink` (a worker's stats, which
  /// outlive the producer). Call before `start`.
  void count_failures_in(std::atomic<uint64_t>* sink) noexcept { failure_sink_ = sink; }

private:
  /// Computes `record_limits_` and lowers `batch.size` to the smallest limit.
  caf::error set_limits(rd_kafka_conf_t* conf, size_t topics,
                        const std::vector<int64_t>& max_message_bytes);

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque);

  /// Drops the handle: purges and fails what it still holds, stops the poll thread.
  void close();

  handle_ptr rk_;
  std::vector<rd_kafka_topic_t*> topics_;
  // What `start` got, for `restart`.
  std::string bootstrap_;
  std::vector<std::string> topic_names_;
  settings extra_;
  std::string transactional_id_;
  std::vector<int64_t> max_message_bytes_;
  std::vector<uint32_t> record_limits_;
  std::thread poller_;
  std::atomic<bool> running_{false};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t>* failure_sink_ = nullptr;
  bool transactional_ = false;
};

} // namespace mephisto::kafka
