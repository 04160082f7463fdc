#pragma once

#include <memory>
#include <span>
#include <vector>

#include <librdkafka/rdkafka.h>

namespace mephisto::kafka {

/// Records taken from one partition queue in one go, zero copy: owns the librdkafka
/// messages and destroys them with itself. Shared read-only between the agents of a
/// partition (`std::shared_ptr<const message_batch>`); whoever drops the last reference
/// frees the fetch buffers. Held messages do not count against librdkafka's queue limits,
/// so the sources' credits bound how many exist.
class message_batch {
public:
  message_batch() = default;
  message_batch(const message_batch&) = delete;
  message_batch& operator=(const message_batch&) = delete;

  ~message_batch() {
    for (auto* m : messages_)
      rd_kafka_message_destroy(m);
  }

  void reserve(size_t n) { messages_.reserve(n); }

  void push_back(rd_kafka_message_t* m) { messages_.push_back(m); }

  std::span<rd_kafka_message_t* const> messages() const noexcept { return messages_; }

  bool empty() const noexcept { return messages_.empty(); }

  size_t size() const noexcept { return messages_.size(); }

  /// Offset of the first and one past the last record.
  int64_t first_offset() const noexcept { return messages_.front()->offset; }
  int64_t next_offset() const noexcept { return messages_.back()->offset + 1; }

private:
  std::vector<rd_kafka_message_t*> messages_;
};

using batch_ptr = std::shared_ptr<const message_batch>;

} // namespace mephisto::kafka
