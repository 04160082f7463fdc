#include "mephisto/detail/restore_writer.hpp"

#include <atomic>
#include <filesystem>

#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/sst_file_writer.h>

#include "mephisto/detail/rocksdb_partition.hpp"

namespace mephisto::detail {

restore_writer::restore_writer() = default;

restore_writer::~restore_writer() {
  wait();
}

void restore_writer::add(std::span<const restore_record> records) {
  constexpr size_t slot_ahead = 16;
  constexpr size_t record_ahead = 8;
  auto n = records.size();
  hashes_.resize(n);
  for (size_t i = 0; i < n; ++i)
    hashes_[i] = restore_chunk::hash_of(records[i].key);
  for (size_t i = 0; i < n; ++i) {
    if (i + slot_ahead < n)
      filling_.prefetch_slot(hashes_[i + slot_ahead]);
    if (i + record_ahead < n)
      filling_.prefetch_record(hashes_[i + record_ahead]);
    filling_.add(hashes_[i], records[i].key, records[i].value);
  }
}

caf::error restore_writer::write(std::shared_ptr<rocksdb_partition> db, int64_t next_offset,
                                 bool waited_for) {
  auto err = wait();
  // The written chunk comes back empty with its capacity: the next one fills it.
  std::swap(filling_, writing_);
  size_t parts = waited_for ? 2 : 1;
  in_flight_ = std::async(std::launch::async, [this, db = std::move(db), next_offset, parts] {
    return write_chunk(*db, writing_, next_offset, parts);
  });
  return err;
}

caf::error restore_writer::wait() {
  if (!in_flight_.valid())
    return caf::none;
  return in_flight_.get();
}

void restore_writer::clear() {
  wait();
  filling_.clear();
}

caf::error restore_writer::release() {
  auto err = wait();
  filling_.release();
  writing_.release();
  std::vector<uint64_t>{}.swap(hashes_);
  return err;
}

caf::error restore_writer::write_chunk(rocksdb_partition& db, restore_chunk& out,
                                       int64_t next_offset, size_t parts) {
  rocksdb_batch batch;
  if (out.keys() >= min_file_records) {
    db.begin_bulk_load();
    if (auto err = ingest(db, out, out.keys() >= parts * min_file_records ? parts : 1))
      return err;
  } else {
    // Caught up (a standby's checkpoints): compactions go on as usual. In key order: the
    // memtable's skip list inserts a key after the previous one cheaply.
    db.end_bulk_load();
    out.split(1);
    out.sort(0, out.keys());
    for (auto& r : out.records()) {
      if (r.present)
        batch.put(db.data(), out.key(r), out.value(r));
      else
        batch.erase(db.data(), out.key(r));
    }
  }
  out.clear();
  // After the data: a crash in between leaves an older offset, and the restore then
  // applies some records again, which ends in the same state.
  return db.write_unlogged(batch, next_offset);
}

namespace {

/// Sorts `out`'s records [first, last) and writes them to a new table file at `path`.
/// Prefetches the bytes of the records a few places ahead: after the sort they are read
/// at random, and their cache misses were most of a table file's writing.
rocksdb::Status write_file(rocksdb_partition& db, restore_chunk& out, size_t first,
                           size_t last, const std::string& path) {
  constexpr size_t ahead = 16;
  out.sort(first, last);
  // The data's own options: its comparator, table format and filters.
  rocksdb::SstFileWriter file{rocksdb::EnvOptions{}, db.native()->GetOptions(db.data()),
                              db.data()};
  auto st = file.Open(path);
  auto recs = out.records();
  for (size_t i = first; i < last && st.ok(); ++i) {
    if (i + ahead < last)
      __builtin_prefetch(out.key(recs[i + ahead]).data());
    auto& r = recs[i];
    auto key = out.key(r);
    rocksdb::Slice k{key.data(), key.size()};
    if (r.present) {
      auto value = out.value(r);
      st = file.Put(k, rocksdb::Slice{value.data(), value.size()});
    } else {
      st = file.Delete(k);
    }
  }
  return st.ok() ? file.Finish() : st;
}

/// A name of its own for a restore's table file: two stores of one partition (a
/// standby's copy and a recovering shard) may share its database.
std::string restore_file_path(const rocksdb_partition& db) {
  static std::atomic<uint64_t> files{0};
  return db.path() + "/restore-chunk-" + std::to_string(::getpid()) + "-"
         + std::to_string(files.fetch_add(1, std::memory_order_relaxed)) + ".sst";
}

} // namespace

caf::error restore_writer::ingest(rocksdb_partition& db, restore_chunk& out, size_t parts) {
  auto starts = out.split(parts);
  std::vector<std::string> paths;
  for (size_t p = 0; p < parts; ++p)
    paths.push_back(restore_file_path(db));
  // The last range here, the others each on a thread of their own.
  std::vector<std::future<rocksdb::Status>> others;
  for (size_t p = 0; p + 1 < parts; ++p)
    others.push_back(std::async(std::launch::async, [&, p] {
      return write_file(db, out, starts[p], starts[p + 1], paths[p]);
    }));
  auto st = write_file(db, out, starts[parts - 1], starts[parts], paths[parts - 1]);
  for (auto& other : others)
    if (auto ost = other.get(); st.ok())
      st = ost;
  const char* what = "writing a restore table file";
  if (st.ok()) {
    what = "ingesting restore table files";
    rocksdb::IngestExternalFileOptions opts;
    opts.move_files = true;          // a hard link: each file is written once
    opts.write_global_seqno = false; // the sequence number goes to the manifest only
    st = db.native()->IngestExternalFile(db.data(), paths, opts);
  }
  std::error_code ignored;
  for (auto& path : paths)
    std::filesystem::remove(path, ignored);
  return st.ok() ? caf::none
                 : make_error(errc::store_failed,
                              std::string{what} + " in " + db.path() + ": " + st.ToString());
}

} // namespace mephisto::detail
