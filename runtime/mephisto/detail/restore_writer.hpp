#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

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
/// at most two chunks are held. Chunks are written in order, so the offset on disk never
/// runs ahead of the data before it.
class restore_writer {
public:
  restore_writer();
  restore_writer(const restore_writer&) = delete;
  restore_writer& operator=(const restore_writer&) = delete;
  /// Waits for the chunk in flight.
  ~restore_writer();

  /// Keeps `value` as `key`'s last record (nullopt: a tombstone).
  void add(std::string_view key, std::optional<std::string_view> value);

  /// Distinct keys held for the next chunk.
  size_t buffered() const noexcept { return filling_.size(); }

  /// Waits for the chunk in flight, then hands what is held, with `next_offset`, to a
  /// thread that writes it to `db`. Returns the error of the chunk waited for.
  caf::error write(std::shared_ptr<rocksdb_partition> db, int64_t next_offset);

  /// Waits for the chunk in flight and returns its error.
  caf::error wait();

  /// Drops what is held (after waiting for the chunk in flight).
  void clear();

private:
  struct text_hash {
    using is_transparent = void;
    size_t operator()(std::string_view x) const noexcept {
      return std::hash<std::string_view>{}(x);
    }
  };
  /// Key -> (present, value): false for a tombstone.
  using chunk = boost::unordered_flat_map<std::string, std::pair<bool, std::string>, text_hash,
                                          std::equal_to<>>;

  /// Sorts `out` by key and writes it with `next_offset` (on the writing thread).
  static caf::error write_sorted(rocksdb_partition& db, chunk& out, int64_t next_offset);

  /// Writes `sorted` to a table file and adds the file to the data: no memtable inserts
  /// and no flush for a large chunk.
  static caf::error ingest(rocksdb_partition& db, const std::vector<chunk::value_type*>& sorted);

  /// Chunks of at least this many keys are ingested as table files, smaller ones (a
  /// standby's forced checkpoints) written through the memtable: a file per small
  /// chunk would be many small files for compaction to merge.
  static constexpr size_t min_file_keys = 50000;

  chunk filling_;             ///< the restore's, for the next chunk
  chunk writing_;             ///< the writing thread's while a chunk is in flight
  std::future<caf::error> in_flight_;
};

} // namespace detail

} // namespace mephisto
