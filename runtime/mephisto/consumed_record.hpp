#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

/// librdkafka's consumed record (`rd_kafka_message_t`), opaque here.
struct rd_kafka_message_s;

namespace mephisto {

/// Headers as (name, value) pairs, in order.
using record_headers = std::vector<std::pair<std::string, std::string>>;

/// One consumed record as an agent reads it: views into memory that its batch
/// (`kafka::message_batch`) owns and keeps alive. Filled from a librdkafka message by a
/// partition's source, or from a record piped in by the test driver (`mephisto::testing`):
/// the agents run the same code on both. Plain data; read-only once in a batch.
struct consumed_record {
  const char* key = nullptr;     ///< null: no key
  size_t key_size = 0;
  const char* value = nullptr;   ///< null: no value
  size_t value_size = 0;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp = -1;        ///< ms since the epoch, -1 if unknown
  /// Where its headers are: the librdkafka message (read on demand) or a list the batch
  /// owns (null both: none).
  rd_kafka_message_s* message = nullptr;
  const record_headers* headers = nullptr;

  std::string_view key_view() const noexcept { return {key == nullptr ? "" : key, key_size}; }

  /// The last value of header `name`; false when the record has none.
  bool header(const char* name, std::string_view& value) const noexcept;
};

} // namespace mephisto
