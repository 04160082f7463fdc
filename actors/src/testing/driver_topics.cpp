#include "driver_topics.hpp"

#include <librdkafka/rdkafka.h>

namespace mephisto::testing::detail {

int32_t partition_for_key(const std::string& key, int32_t partitions) {
  // librdkafka's murmur2 partitioner is Java's; it reads no topic handle.
  return rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(), partitions, nullptr,
                                          nullptr);
}

int32_t topics::append(uint32_t topic, int32_t partition, stored_record rec) {
  auto& log = logs_[topic];
  auto n = static_cast<int32_t>(log.partitions.size());
  if (partition < 0)
    partition = rec.has_key ? partition_for_key(rec.key, n)
                            : static_cast<int32_t>(log.round_robin++ % n);
  auto& part = log.partitions[static_cast<size_t>(partition)];
  if (rec.timestamp > part.max_timestamp)
    part.max_timestamp = rec.timestamp;
  part.records.push_back(std::move(rec));
  return partition;
}

int topics::find(const std::string& name) const {
  for (size_t i = 0; i < logs_.size(); ++i)
    if (logs_[i].name == name || logs_[i].kafka_name == name)
      return static_cast<int>(i);
  return -1;
}

rd_kafka_resp_err_t topics::send(uint32_t topic, int32_t partition, const void* key,
                                 size_t key_size, const void* value, size_t value_size,
                                 int64_t timestamp, kafka::delivery_batch* batch) noexcept {
  return produce(topic, partition, key, key_size, value, value_size, timestamp, nullptr, batch);
}

rd_kafka_resp_err_t
topics::send_with_headers(uint32_t topic, const void* key, size_t key_size, const void* value,
                          size_t value_size,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          kafka::delivery_batch* batch) noexcept {
  return produce(topic, -1, key, key_size, value, value_size, 0, &headers, batch);
}

rd_kafka_resp_err_t topics::produce(uint32_t topic, int32_t partition, const void* key,
                                    size_t key_size, const void* value, size_t value_size,
                                    int64_t timestamp, const record_headers* headers,
                                    kafka::delivery_batch* batch) noexcept {
  if (topic >= logs_.size())
    return RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
  if (partition >= static_cast<int32_t>(logs_[topic].partitions.size()))
    return RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
  stored_record rec;
  rec.has_key = key != nullptr;
  if (rec.has_key)
    rec.key.assign(static_cast<const char*>(key), key_size);
  rec.has_value = value != nullptr;
  if (rec.has_value)
    rec.value.assign(static_cast<const char*>(value), value_size);
  rec.timestamp = timestamp > 0 ? timestamp : now_ms_;
  if (headers != nullptr)
    rec.headers = *headers;
  auto p = append(topic, partition, std::move(rec));
  if (batch != nullptr) {
    auto& part = logs_[topic].partitions[static_cast<size_t>(p)];
    batch->on_record(logs_[topic].kafka_name.c_str(), p,
                     static_cast<int64_t>(part.records.size()) - 1);
    batch->release(true);
  }
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

} // namespace mephisto::testing::detail
