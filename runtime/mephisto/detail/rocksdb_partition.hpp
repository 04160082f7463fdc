#pragma once

// RocksDB behind small types, so that the store templates (and every file that includes
// `mephisto/mephisto.hpp`) never see a RocksDB header: the classes below only name RocksDB
// types by pointer, and `rocksdb_batch` holds its `rocksdb::WriteBatch` by pointer.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mephisto/error.hpp"

namespace rocksdb {
class Cache;
class ColumnFamilyHandle;
class DB;
class WriteBatch;
class WriteBufferManager;
} // namespace rocksdb

namespace mephisto {

/// Puts and deletes of one table partition's data, to be written at once: a
/// `rocksdb::WriteBatch` that only the library's own source files see. Owned by one store
/// (or one pending durable write) at a time; not thread-safe.
class rocksdb_batch {
public:
  rocksdb_batch();
  rocksdb_batch(rocksdb_batch&&) noexcept;
  rocksdb_batch& operator=(rocksdb_batch&&) noexcept;
  ~rocksdb_batch();

  void put(rocksdb::ColumnFamilyHandle* family, std::string_view key, std::string_view value);
  void erase(rocksdb::ColumnFamilyHandle* family, std::string_view key);

  /// Puts and deletes so far.
  size_t count() const;

  void clear();

  /// The RocksDB batch (made on first use; a moved-from batch is empty).
  rocksdb::WriteBatch& native();

private:
  std::unique_ptr<rocksdb::WriteBatch> batch_;
};

/// One table partition's RocksDB database (`<root>/<table>/<partition>`): the table's
/// encoded keys and values in column family `data`, and in `meta` the changelog offset
/// the data reflects, always written in the same write batch as the data.
///
/// Shared (`shared_ptr`) by the store that reads it and the durable writes still to be
/// applied; RocksDB makes concurrent reads and writes safe. `durable_gen` tells the store
/// which of its cached changes are on disk.
class rocksdb_partition {
public:
  rocksdb_partition(std::string path, rocksdb::DB* db,
                    std::vector<rocksdb::ColumnFamilyHandle*> handles);
  ~rocksdb_partition();

  const std::string& path() const noexcept { return path_; }

  /// The changelog offset the data reflects (0 for a new store).
  int64_t offset() const;

  /// The stored form of a changelog offset in `meta`: 8 bytes, big-endian.
  static std::string encode_offset(int64_t offset);

  /// The offset of a stored `meta` value; 0 (restore everything) for one that is not 8 bytes.
  static int64_t decode_offset(std::string_view stored);

  /// Reads `key`; false when absent. Throws `std::runtime_error` on an I/O error.
  bool get(std::string_view key, std::string& value);

  /// What `read` found.
  enum class read_result { found, missing, failed };

  /// Reads `key` without throwing: `failed` (with RocksDB's status in `error`) when the
  /// read failed for another reason than a missing key (corruption, I/O error).
  read_result read(std::string_view key, std::string& value, std::string& error);

  /// Writes `batch` (data puts and deletes) and, if `next_offset >= 0`, the offset.
  caf::error write(rocksdb_batch& batch, int64_t next_offset);

  /// As `write`, without the write-ahead log (bulk restore): call `flush` at the end.
  caf::error write_unlogged(rocksdb_batch& batch, int64_t next_offset);

  /// Writes the memtables to disk (after unlogged writes).
  caf::error flush();

  /// Deletes all data and the offset (drops and re-creates the column families).
  caf::error clear();

  /// Calls `fn(key, value)` for every stored pair (snapshots and counts, not the hot path).
  void scan(const std::function<void(std::string_view, std::string_view)>& fn) const;

  /// Number of stored keys (counted: exact, O(n)).
  size_t count() const;

  rocksdb::ColumnFamilyHandle* data() const noexcept { return handles_[1]; }

  /// The database (bulk restore writes table files and ingests them).
  rocksdb::DB* native() const noexcept { return db_; }

  /// A restore is about to ingest table files: the data's level-0 files are merged only
  /// when 128 have come, or after `end_bulk_load`. Each ingested file overlaps all the
  /// others, so merging them four at a time rewrote the growing table again and again, and
  /// took half of a restore's CPU. Thread-safe; idempotent.
  void begin_bulk_load();

  /// Compactions as usual again, in the background, while the table serves. Writes are
  /// not stopped while the ingested files are merged: the level-0 limits stay raised until
  /// a write finds level 0 back under them (see `write`). Thread-safe; idempotent.
  void end_bulk_load();

  /// Generation of the last durable write applied (see `rocksdb_store::seal`).
  std::atomic<uint64_t> durable_gen{0};

private:
  /// After a bulk load, every 256th write checks whether level 0 is small again and, if
  /// so, gives the data its level-0 limits back.
  void settle_after_bulk_load();

  /// Changes options of the data's column family (logged when RocksDB refuses).
  void set_data_options(const std::unordered_map<std::string, std::string>& changes);

  std::string path_;
  rocksdb::DB* db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_; ///< default, data, meta
  std::mutex bulk_mtx_; ///< guards `bulk_` and the option changes
  bool bulk_ = false;   ///< between begin_ and end_bulk_load
  std::atomic<bool> settling_{false}; ///< level-0 limits raised after a bulk load
  std::atomic<uint32_t> writes_{0};   ///< writes since the last check while settling
};

/// The RocksDB resources of one worker: one block cache and one write-buffer budget that
/// every table partition shares, and the partitions open now (a partition that is
/// revoked and assigned again is reopened only once its last user let go).
///
/// Owned by the worker; `open` is thread-safe (restorer threads call it).
class rocksdb_env {
public:
  /// `direct_reads`: table files are read with O_DIRECT (see options::rocksdb_direct_reads).
  rocksdb_env(std::string root, size_t cache_bytes, size_t write_buffer_bytes,
              bool direct_reads = false);

  const std::string& root() const noexcept { return root_; }

  /// Opens the partition's database, creating it if missing. A database that cannot be
  /// opened (corrupt, wrong format) is deleted and created anew; `why` says so (empty
  /// otherwise). `created` tells whether it did not exist before.
  expected<std::shared_ptr<rocksdb_partition>>
  open(const std::string& table, int32_t partition, std::string& why, bool& created);

  /// Marks the partition's database as not to be trusted (a read failed, or a stored value
  /// did not decode): its next `open` waits until every current user let go, deletes it and
  /// creates it anew (`why` then says `local store discarded (<reason>)`), so that the
  /// table partition is rebuilt from its whole changelog. Thread-safe.
  void condemn(const std::string& table, int32_t partition, const std::string& reason);

  /// Bytes the shared block cache holds now (memtables charged to it included).
  size_t block_cache_bytes() const;

  /// Bytes the memtables of every partition hold now.
  size_t memtable_bytes() const;

private:
  /// Tests only (tests/fuzz/fuzz_rocksdb_value.cpp): reads a partition's condemnation and
  /// lifts it, so that a fuzzer can check one on every input without starting the database
  /// over each time (a RocksDB open per input).
  friend struct rocksdb_env_access;

  std::string root_;
  bool direct_reads_;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
  /// One per path: opening a database (which may replay its log for a second) holds only
  /// its own path's lock, so partitions open in parallel. `db` expires when the last user
  /// lets go, before the database is closed: an open waits on `closed` until `open_dbs` is
  /// back to 0, or RocksDB refuses it ("lock hold by current process").
  struct slot {
    std::mutex mtx;
    std::condition_variable closed;
    std::weak_ptr<rocksdb_partition> db;
    int open_dbs = 0;
    std::string condemned; ///< not empty: why the next open starts the database over
  };
  std::shared_ptr<slot> slot_of(const std::string& path);
  std::mutex mtx_; ///< guards `open_`
  std::map<std::string, std::shared_ptr<slot>> open_;
};

} // namespace mephisto
