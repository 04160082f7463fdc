#pragma once

#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mephisto/detail/restore_chunk.hpp"
#include "mephisto/error.hpp"
#include "mephisto/store.hpp"

namespace mephisto {

class rocksdb_partition;

namespace detail {

/// Takes a RocksDB store's restore to disk in chunks: the last record of each key since
/// the previous chunk (a `restore_chunk`), written in key order together with the
/// changelog offset it reflects.
///
/// Owned by one `rocksdb_store` and called from the thread restoring it. Each chunk is
/// sorted and written on a thread of its own while the restore fills the next one, and
/// only one chunk is in flight: at most two chunks are held, each bounded in keys and
/// bytes. Chunks are written in order, so the offset on disk never runs ahead of the data
/// before it. A chunk the restore waits for (its last) is sorted and written in two key
/// ranges on two threads.
class restore_writer {
public:
  restore_writer();
  restore_writer(const restore_writer&) = delete;
  restore_writer& operator=(const restore_writer&) = delete;
  /// Waits for the chunk in flight.
  ~restore_writer();

  /// Keeps each record as its key's last, in order. Hashes the keys first, then looks them
  /// up while the lookups a few records ahead load.
  void add(std::span<const restore_record> records);

  /// True once a chunk's worth of keys, bytes or records is held: time to `write` it.
  bool full() const noexcept {
    return filling_.keys() >= chunk_keys || filling_.bytes() >= chunk_bytes
           || filling_.added() >= chunk_records;
  }

  /// Waits for the chunk in flight, then hands what is held, with `next_offset`, to a
  /// thread that writes it to `db`; `waited_for`: the caller waits for it next (two
  /// threads write it). Returns the error of the chunk waited for.
  caf::error write(std::shared_ptr<rocksdb_partition> db, int64_t next_offset,
                   bool waited_for = false);

  /// Waits for the chunk in flight and returns its error.
  caf::error wait();

  /// Drops what is held (after waiting for the chunk in flight).
  void clear();

  /// Waits for the chunk in flight and gives back every buffer: the restore is over (the
  /// next one makes them anew).
  caf::error release();

  /// Bytes of memory its chunks' buffers hold.
  size_t held_bytes() const noexcept {
    return filling_.held_bytes() + writing_.held_bytes() + hashes_.capacity() * sizeof(uint64_t);
  }

  /// Distinct keys per chunk.
  static constexpr size_t chunk_keys = 250000;

  /// Bytes of keys and values per chunk: large values end a chunk before its key count.
  static constexpr size_t chunk_bytes = size_t{32} << 20;

  /// Records per chunk, repeats of a key included: a restore of few keys and a long
  /// history still keeps what it has every few seconds, for a restart to resume from.
  static constexpr size_t chunk_records = 4'000'000;

private:
  /// Writes the records of `out` with `next_offset`, in `parts` key ranges (on the
  /// writing thread, and for a second range on one more), and empties `out`.
  static caf::error write_chunk(rocksdb_partition& db, restore_chunk& out, int64_t next_offset,
                                size_t parts);

  /// Writes `out`'s records, split into `parts` ranges, to as many table files and adds
  /// the files to the data: no memtable inserts and no flush for a large chunk.
  static caf::error ingest(rocksdb_partition& db, restore_chunk& out, size_t parts);

  /// Chunks of at least this many keys are ingested as table files, smaller ones (a
  /// standby's forced checkpoints) written through the memtable: a file per small
  /// chunk would be many small files for compaction to merge. A chunk written in two
  /// ranges has at least this many keys in each.
  static constexpr size_t min_file_records = 50000;

  restore_chunk filling_;         ///< the restore's, for the next chunk
  restore_chunk writing_;         ///< the writing thread's while a chunk is in flight
  std::vector<uint64_t> hashes_;  ///< add's, of a batch's keys
  std::future<caf::error> in_flight_;
};

} // namespace detail

} // namespace mephisto
