#pragma once

#include <memory>
#include <span>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "mephisto/consumed_record.hpp"

namespace mephisto::kafka {

/// Records taken from one partition in one go, zero copy: the agents read them as
/// `consumed_record`s, views into what the batch owns. From a partition queue it owns the
/// librdkafka messages and destroys them with itself; from the test driver it keeps the
/// driver's storage alive (`keep_alive`). Shared read-only between the agents of a
/// partition (`std::shared_ptr<const message_batch>`); whoever drops the last reference
/// frees the fetch buffers. Held messages do not count against librdkafka's queue limits,
/// so the sources' credits bound how many exist.
class message_batch {
public:
  message_batch() = default;
  message_batch(const message_batch&) = delete;
  message_batch& operator=(const message_batch&) = delete;

  ~message_batch() {
    for (auto* m : owned_)
      rd_kafka_message_destroy(m);
  }

  void reserve(size_t n) {
    owned_.reserve(n);
    records_.reserve(n);
  }

  /// Takes a consumed librdkafka message (destroyed with the batch).
  void push_back(rd_kafka_message_t* m) {
    owned_.push_back(m);
    consumed_record r;
    r.key = static_cast<const char*>(m->key);
    r.key_size = m->key_len;
    r.value = static_cast<const char*>(m->payload);
    r.value_size = m->len;
    r.partition = m->partition;
    r.offset = m->offset;
    r.timestamp = rd_kafka_message_timestamp(m, nullptr);
    r.message = m;
    records_.push_back(r);
  }

  /// Adds a record whose memory `keep_alive` holds.
  void push_back(const consumed_record& r) { records_.push_back(r); }

  /// Keeps `storage` alive as long as the batch (the memory of records added as views).
  void keep_alive(std::shared_ptr<const void> storage) { storage_ = std::move(storage); }

  std::span<const consumed_record> records() const noexcept { return records_; }

  bool empty() const noexcept { return records_.empty(); }

  size_t size() const noexcept { return records_.size(); }

  /// Offset of the first and one past the last record.
  int64_t first_offset() const noexcept { return records_.front().offset; }
  int64_t next_offset() const noexcept { return records_.back().offset + 1; }

private:
  std::vector<consumed_record> records_;
  std::vector<rd_kafka_message_t*> owned_;
  std::shared_ptr<const void> storage_;
};

using batch_ptr = std::shared_ptr<const message_batch>;

} // namespace mephisto::kafka
