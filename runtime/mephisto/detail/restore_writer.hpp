#pragma once

#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mephisto/error.hpp"

namespace mephisto {

class rocksdb_partition;

namespace detail {

/// Takes a RocksDB store's restore to disk in chunks: the last record of each key since
/// the previous chunk, written in key order together with the changelog offset it reflects.
///
/// Owned by one `rocksdb_store` and called from the thread restoring it. Each chunk is
/// sorted and written on a thread of its own while the restore fills the next one (the two
/// were most of a RocksDB restore's time on one thread), and only one chunk is in flight:
/// at most two chunks are held, each bounded in records and bytes. Chunks are written in
/// order, so the offset on disk never runs ahead of the data before it.
class restore_writer {
public:
  restore_writer();
  restore_writer(const restore_writer&) = delete;
  restore_writer& operator=(const restore_writer&) = delete;
  /// Waits for the chunk in flight.
  ~restore_writer();

  /// Keeps `value` as `key`'s next record (nullopt: a tombstone); the last one of a key
  /// in a chunk is the one written.
  void add(std::string_view key, std::optional<std::string_view> value);

  /// True once a chunk's worth of records or bytes is held: time to `write` it.
  bool full() const noexcept {
    return filling_.records.size() >= chunk_records || filling_.bytes.size() >= chunk_bytes;
  }

  /// Waits for the chunk in flight, then hands what is held, with `next_offset`, to a
  /// thread that writes it to `db`. Returns the error of the chunk waited for.
  caf::error write(std::shared_ptr<rocksdb_partition> db, int64_t next_offset);

  /// Waits for the chunk in flight and returns its error.
  caf::error wait();

  /// Drops what is held (after waiting for the chunk in flight).
  void clear();

  /// Records per chunk.
  static constexpr size_t chunk_records = 250000;

  /// Bytes of keys and values per chunk: large values end a chunk before its record count.
  static constexpr size_t chunk_bytes = size_t{32} << 20;

private:
  /// Records in arrival order: their keys and values back to back in `bytes`, and for
  /// each the first 16 bytes of its key (so that the sort rarely reads `bytes`).
  struct chunk {
    struct record {
      uint64_t head[2]; ///< the key's first 16 bytes, big-endian, zero-padded
      uint32_t at;      ///< where its key starts in `bytes`; its value follows
      uint32_t key_size;
      uint32_t value_size;
      bool present; ///< false: a tombstone
    };
    std::string bytes;
    std::vector<record> records;

    std::string_view key(const record& r) const { return {bytes.data() + r.at, r.key_size}; }
    std::string_view value(const record& r) const {
      return {bytes.data() + r.at + r.key_size, r.value_size};
    }
    void clear() {
      bytes.clear();
      records.clear();
    }
  };

  /// Sorts `out` by key, keeps the last record of each, and writes them with `next_offset`
  /// (on the writing thread).
  static caf::error write_sorted(rocksdb_partition& db, chunk& out, int64_t next_offset);

  /// Writes the last record of each key of `sorted` to a table file and adds the file to
  /// the data: no memtable inserts and no flush for a large chunk.
  static caf::error ingest(rocksdb_partition& db, const chunk& sorted);

  /// Chunks of at least this many records are ingested as table files, smaller ones (a
  /// standby's forced checkpoints) written through the memtable: a file per small
  /// chunk would be many small files for compaction to merge.
  static constexpr size_t min_file_records = 50000;

  chunk filling_; ///< the restore's, for the next chunk
  chunk writing_; ///< the writing thread's while a chunk is in flight
  std::future<caf::error> in_flight_;
};

} // namespace detail

} // namespace mephisto
