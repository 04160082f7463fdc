#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "mephisto/kafka/delivery.hpp"

namespace mephisto::kafka {

/// Where agents produce their records: the worker's librdkafka `producer`, or the test
/// driver's in-memory topics (`mephisto::testing::driver`). The agents' one path to Kafka,
/// so that both run the same agent code.
///
/// Thread-safe and never blocking: a full queue is reported (the caller retries later);
/// each record's `delivery_batch` is released when the record is acknowledged or failed
/// for good, on whatever thread the sink reports deliveries.
class record_sink {
public:
  virtual ~record_sink() = default;

  /// Enqueues one record of topic index `topic`. `partition < 0`: chosen from the key
  /// (Java's murmur2; random when `key == nullptr`); `timestamp` in ms since the epoch, 0
  /// for now. Returns RD_KAFKA_RESP_ERR__QUEUE_FULL when the caller has to back off; any
  /// other error is final for this record. `batch` is released on delivery.
  virtual rd_kafka_resp_err_t send(uint32_t topic, int32_t partition, const void* key,
                                   size_t key_size, const void* value, size_t value_size,
                                   int64_t timestamp, delivery_batch* batch) noexcept = 0;

  /// Enqueues a record with headers (name, value), e.g. a dead letter and its reason.
  /// Same contract as `send`.
  virtual rd_kafka_resp_err_t
  send_with_headers(uint32_t topic, const void* key, size_t key_size, const void* value,
                    size_t value_size,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    delivery_batch* batch) noexcept = 0;
};

} // namespace mephisto::kafka
