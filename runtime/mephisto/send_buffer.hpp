#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mephisto/codec.hpp"

namespace mephisto {

/// The records an agent produces while it processes one batch: keys and values encoded
/// back to back into one byte arena, plus a descriptor per record.
///
/// Owned by one agent actor and reused for every batch, so a warm buffer allocates
/// nothing per event. Not thread-safe (it never leaves its agent).
class send_buffer {
public:
  /// Partition value that lets the producer's partitioner choose (murmur2_random).
  static constexpr int32_t any_partition = -1;

  struct record {
    uint32_t topic;      ///< index into the producer's topic handles
    int32_t partition;   ///< `any_partition` or an explicit partition
    uint32_t key_offset;
    uint32_t key_size;
    uint32_t value_offset;
    uint32_t value_size;
    bool has_key;
    bool has_value;      ///< false: a tombstone (delete) record
    int64_t timestamp;   ///< ms since the epoch; 0: the producer's clock
  };

  /// Stamps the records added from now on with `ms` (the timestamp of the event being
  /// processed, so outputs carry their input's time, as in Kafka Streams).
  void stamp(int64_t ms) noexcept { timestamp_ = ms > 0 ? ms : 0; }

  /// Appends a record with an encoded key (may be null) and value (may be null).
  template <class K, class V>
  void add(uint32_t topic, int32_t partition, const K* key, const V* value) {
    record r{topic, partition, 0, 0, 0, 0, key != nullptr, value != nullptr, timestamp_};
    r.key_offset = static_cast<uint32_t>(arena_.size());
    if (key != nullptr)
      codec<K>::encode(*key, arena_);
    r.key_size = static_cast<uint32_t>(arena_.size() - r.key_offset);
    r.value_offset = static_cast<uint32_t>(arena_.size());
    if (value != nullptr)
      codec<V>::encode(*value, arena_);
    r.value_size = static_cast<uint32_t>(arena_.size() - r.value_offset);
    if (limits_ != nullptr && r.key_size + r.value_size > limits_[topic]) [[unlikely]]
      note_oversize(r);
    records_.push_back(r);
  }

  size_t size() const noexcept { return records_.size(); }

  bool empty() const noexcept { return records_.empty(); }

  const record& operator[](size_t i) const noexcept { return records_[i]; }

  std::string_view key(const record& r) const noexcept {
    return {arena_.data() + r.key_offset, r.key_size};
  }

  std::string_view value(const record& r) const noexcept {
    return {arena_.data() + r.value_offset, r.value_size};
  }

  /// A position to roll back to, e.g. when a user function throws halfway.
  struct mark {
    size_t records;
    size_t bytes;
  };

  mark position() const noexcept { return {records_.size(), arena_.size()}; }

  void rollback(mark m) {
    if (oversize_.record != SIZE_MAX && oversize_.record >= m.records)
      oversize_ = {};
    records_.resize(m.records);
    arena_.resize(m.bytes);
  }

  /// Checks each record added from now on against `limits[topic]`, the largest key +
  /// value size its topic takes (the producer's `record_limits()`; null: no check). The
  /// array must outlive the buffer. One comparison per record.
  void limit(const uint32_t* limits) noexcept { limits_ = limits; }

  /// A record larger than its topic's limit.
  struct oversize {
    size_t record = SIZE_MAX; ///< its index; SIZE_MAX: none
    uint32_t topic = 0;
    size_t size = 0;          ///< key + value bytes
    uint32_t limit = 0;
  };

  /// The first record added at or after `m` that exceeds its topic's limit, or null.
  const oversize* oversized_since(mark m) const noexcept {
    return oversize_.record != SIZE_MAX && oversize_.record >= m.records ? &oversize_
                                                                          : nullptr;
  }

  /// Forgets all records, keeps the capacity.
  void clear() noexcept {
    oversize_ = {};
    records_.clear();
    arena_.clear();
  }

private:
  void note_oversize(const record& r) noexcept {
    if (oversize_.record == SIZE_MAX)
      oversize_ = {records_.size(), r.topic, size_t{r.key_size} + r.value_size,
                   limits_[r.topic]};
  }

  const uint32_t* limits_ = nullptr;
  oversize oversize_;
  std::string arena_;
  std::vector<record> records_;
  int64_t timestamp_ = 0;
};

} // namespace mephisto
