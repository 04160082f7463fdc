#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "mephisto/consumed_record.hpp"
#include "mephisto/kafka/record_sink.hpp"

namespace mephisto::testing::detail {

/// One record of an in-memory topic partition.
struct stored_record {
  std::string key;
  std::string value;
  bool has_key = false;
  bool has_value = false;
  int64_t timestamp = -1;
  record_headers headers;
};

/// One partition: offsets from 0. A deque, so that records never move once appended: the
/// batches handed to agents view them in place.
struct partition_log {
  std::deque<stored_record> records;
  int64_t max_timestamp = -1;  ///< stream time
};

/// A topic of the driver, in the producer's topic order (topics, changelogs, dead letters).
struct topic_log {
  std::string name;        ///< declared name (changelogs and dead letters: the Kafka name)
  std::string kafka_name;
  std::vector<partition_log> partitions;
  uint64_t round_robin = 0;  ///< next partition for records without a key
};

/// The driver's topics, and the agents' `record_sink` into them: a produced record is
/// appended at once and acknowledged right there (its delivery batch released), so the
/// agents run their delivery path unchanged. Owned by the driver; used only on the
/// driver's thread (CAF's test coordinator runs every actor there).
class topics final : public kafka::record_sink {
public:
  explicit topics(std::vector<topic_log> logs) : logs_(std::move(logs)) {}

  /// Appends a record; `partition < 0`: Kafka's default partitioner. Returns the partition.
  int32_t append(uint32_t topic, int32_t partition, stored_record rec);

  /// The wall clock: stamps records produced with timestamp 0.
  void set_now(int64_t now_ms) noexcept { now_ms_ = now_ms; }

  std::vector<topic_log>& logs() noexcept { return logs_; }
  const std::vector<topic_log>& logs() const noexcept { return logs_; }

  /// Index of topic `name` (declared or Kafka name); -1 if none.
  int find(const std::string& name) const;

  rd_kafka_resp_err_t send(uint32_t topic, int32_t partition, const void* key,
                           size_t key_size, const void* value, size_t value_size,
                           int64_t timestamp, kafka::delivery_batch* batch) noexcept override;

  rd_kafka_resp_err_t
  send_with_headers(uint32_t topic, const void* key, size_t key_size, const void* value,
                    size_t value_size,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    kafka::delivery_batch* batch) noexcept override;

private:
  rd_kafka_resp_err_t produce(uint32_t topic, int32_t partition, const void* key,
                              size_t key_size, const void* value, size_t value_size,
                              int64_t timestamp, const record_headers* headers,
                              kafka::delivery_batch* batch) noexcept;

  std::vector<topic_log> logs_;
  int64_t now_ms_ = 0;
};

/// The partition Kafka's default partitioner (Java's murmur2) picks for `key`.
int32_t partition_for_key(const std::string& key, int32_t partitions);

} // namespace mephisto::testing::detail
