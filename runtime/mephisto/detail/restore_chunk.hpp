#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mephisto::detail {

/// The last record of each key a RocksDB restore read since its previous chunk went to
/// disk: one record per key, so that a key updated ten times is sorted and written once.
///
/// A record's key and value sit in one byte buffer; a later value of a key overwrites the
/// earlier one in place when it fits (a count, a fixed-size struct), or is appended. Keys
/// are found through an open-addressing index of the records (linear probing, at most
/// half full, 32 bits of hash beside each record number).
///
/// Owned by a `restore_writer`: filled on the restoring thread, then handed whole to its
/// writing thread, which sorts it. Not thread-safe.
class restore_chunk {
public:
  struct record {
    uint64_t head[2]; ///< the key's first 16 bytes, big-endian, zero-padded: sorts cheaply
    uint32_t key_at;
    uint32_t key_size;
    uint32_t value_at;
    uint32_t value_size;
    uint32_t value_room; ///< bytes at `value_at` a later value may take
    bool present;        ///< false: a tombstone
  };

  /// The hash `add` files `key` under.
  static uint64_t hash_of(std::string_view key) noexcept;

  /// Keeps `value` (nullopt: a tombstone) as `key`'s last record; `hash` is its hash_of.
  void add(uint64_t hash, std::string_view key, std::optional<std::string_view> value);

  /// Starts loading the index slot where a key with this hash_of is looked for.
  void prefetch_slot(uint64_t hash) const noexcept {
    if (!index_.empty())
      __builtin_prefetch(&index_[hash & mask_]);
  }

  /// Starts loading the record the index slot of `hash` names (whose slot should be loaded
  /// by now), in case it is the key's.
  void prefetch_record(uint64_t hash) const noexcept {
    if (index_.empty())
      return;
    if (auto slot = index_[hash & mask_]; slot != 0)
      __builtin_prefetch(&records_[static_cast<uint32_t>(slot) - 1]);
  }

  /// Distinct keys held.
  size_t keys() const noexcept { return records_.size(); }
  /// Bytes of keys and values held.
  size_t bytes() const noexcept { return bytes_.size(); }
  /// Records added since the chunk began, repeats of a key included.
  size_t added() const noexcept { return added_; }
  /// Bytes of memory its buffers hold (their capacity, not what is used).
  size_t held_bytes() const noexcept {
    return bytes_.capacity() + records_.capacity() * sizeof(record)
           + index_.capacity() * sizeof(uint64_t);
  }

  std::span<record> records() noexcept { return records_; }
  std::span<const record> records() const noexcept { return records_; }
  std::string_view key(const record& r) const noexcept {
    return {bytes_.data() + r.key_at, r.key_size};
  }
  std::string_view value(const record& r) const noexcept {
    return {bytes_.data() + r.value_at, r.value_size};
  }

  /// Key order of two records of this chunk.
  bool less(const record& x, const record& y) const noexcept {
    if (x.head[0] != y.head[0])
      return x.head[0] < y.head[0];
    if (x.head[1] != y.head[1])
      return x.head[1] < y.head[1];
    return key(x) < key(y); // equal heads: whole keys
  }

  /// Reorders the records into `parts` key ranges of near equal size, each range's keys
  /// before the next one's, and returns where they start (and, last, `keys()`). `sort`
  /// then orders each range, each on a thread of its own if wanted. An `add` after it
  /// files every record again.
  std::vector<size_t> split(size_t parts);

  /// Puts `records()[first, last)`, a range `split` returned, in key order. Ranges that
  /// differ may be sorted at the same time.
  void sort(size_t first, size_t last);

  /// Forgets every record. Keeps the buffers for the next chunk when this one filled a
  /// good part of them; gives back buffers four and more times larger than what it held
  /// (a standby's checkpoints every second, after a catch-up filled a chunk).
  void clear();

  /// Forgets every record and gives back every buffer.
  void release();

private:
  /// Makes an index of `slots` slots (a power of two) and files every record in it.
  void reindex(size_t slots);

  std::string bytes_;
  std::vector<record> records_;
  std::vector<uint64_t> index_; ///< 0: empty; else hash's high 32 bits, then record + 1
  size_t mask_ = 0;             ///< index_.size() - 1
  size_t added_ = 0;
  bool moved_ = false; ///< records sorted since they were indexed
};

} // namespace mephisto::detail
