#include "mephisto/detail/restore_writer.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>

#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/sst_file_writer.h>

#include "mephisto/detail/rocksdb_partition.hpp"

namespace mephisto::detail {

namespace {

/// Calls `fn(key, record)` for the last record of each key of a sorted chunk, in key order.
/// Prefetches the bytes of the records a few places ahead: after the sort they are read
/// at random, and their cache misses were most of a table file's writing.
template <class Chunk, class Fn>
void for_each_last(const Chunk& sorted, Fn&& fn) {
  constexpr size_t ahead = 16;
  auto& recs = sorted.records;
  for (size_t i = 0; i < recs.size(); ++i) {
    if (i + ahead < recs.size())
      __builtin_prefetch(sorted.bytes.data() + recs[i + ahead].at);
    auto& r = recs[i];
    if (i + 1 < recs.size()) {
      auto& next = recs[i + 1];
      if (next.head[0] == r.head[0] && next.head[1] == r.head[1]
          && sorted.key(next) == sorted.key(r))
        continue; // a later record of the same key follows
    }
    fn(sorted.key(r), r);
  }
}

} // namespace

restore_writer::restore_writer() = default;

restore_writer::~restore_writer() {
  wait();
}

void restore_writer::add(std::string_view key, std::optional<std::string_view> value) {
  chunk::record r{{0, 0},
                  static_cast<uint32_t>(filling_.bytes.size()),
                  static_cast<uint32_t>(key.size()),
                  static_cast<uint32_t>(value ? value->size() : 0),
                  value.has_value()};
  unsigned char head[16] = {};
  std::memcpy(head, key.data(), std::min<size_t>(16, key.size()));
  for (int i = 0; i < 16; ++i)
    r.head[i / 8] = (r.head[i / 8] << 8) | head[i];
  filling_.bytes.append(key);
  if (value)
    filling_.bytes.append(*value);
  filling_.records.push_back(r);
}

caf::error restore_writer::write(std::shared_ptr<rocksdb_partition> db, int64_t next_offset) {
  auto err = wait();
  // The written chunk comes back empty with its capacity: the next one fills it.
  std::swap(filling_, writing_);
  in_flight_ = std::async(std::launch::async, [this, db = std::move(db), next_offset] {
    return write_sorted(*db, writing_, next_offset);
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

caf::error restore_writer::write_sorted(rocksdb_partition& db, chunk& out, int64_t next_offset) {
  // In key order (a table file needs it; the memtable's skip list inserts a key after the
  // previous one cheaply), and the records of a key in arrival order: the last one wins.
  std::sort(out.records.begin(), out.records.end(),
            [&out](const chunk::record& x, const chunk::record& y) {
              if (x.head[0] != y.head[0])
                return x.head[0] < y.head[0];
              if (x.head[1] != y.head[1])
                return x.head[1] < y.head[1];
              if (auto c = out.key(x).compare(out.key(y)); c != 0) // equal heads: whole keys
                return c < 0;
              return x.at < y.at;
            });
  rocksdb_batch batch;
  if (out.records.size() >= min_file_records) {
    db.begin_bulk_load();
    if (auto err = ingest(db, out))
      return err;
  } else {
    // Caught up (a standby's checkpoints): compactions go on as usual.
    db.end_bulk_load();
    for_each_last(out, [&](std::string_view key, const chunk::record& r) {
      if (r.present)
        batch.put(db.data(), key, out.value(r));
      else
        batch.erase(db.data(), key);
    });
  }
  out.clear();
  // After the data: a crash in between leaves an older offset, and the restore then
  // applies some records again, which ends in the same state.
  return db.write_unlogged(batch, next_offset);
}

caf::error restore_writer::ingest(rocksdb_partition& db, const chunk& sorted) {
  auto fail = [&db](const char* what, const rocksdb::Status& st) {
    return make_error(errc::store_failed,
                      std::string{what} + " in " + db.path() + ": " + st.ToString());
  };
  auto* native = db.native();
  // The data's own options: its comparator, table format and filters.
  rocksdb::SstFileWriter file{rocksdb::EnvOptions{}, native->GetOptions(db.data()), db.data()};
  // A name of its own: two stores of one partition (a standby's copy and a recovering
  // shard) may share its database.
  static std::atomic<uint64_t> files{0};
  auto path = db.path() + "/restore-chunk-" + std::to_string(::getpid()) + "-"
              + std::to_string(files.fetch_add(1, std::memory_order_relaxed)) + ".sst";
  auto st = file.Open(path);
  for_each_last(sorted, [&](std::string_view key, const chunk::record& r) {
    if (!st.ok())
      return;
    rocksdb::Slice k{key.data(), key.size()};
    if (r.present) {
      auto value = sorted.value(r);
      st = file.Put(k, rocksdb::Slice{value.data(), value.size()});
    } else {
      st = file.Delete(k);
    }
  });
  if (st.ok())
    st = file.Finish();
  if (!st.ok())
    return fail("writing a restore table file", st);
  rocksdb::IngestExternalFileOptions opts;
  opts.move_files = true;          // a hard link: the file is written once
  opts.write_global_seqno = false; // the sequence number goes to the manifest only
  st = native->IngestExternalFile(db.data(), {path}, opts);
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
  return st.ok() ? caf::none : fail("ingesting a restore table file", st);
}

} // namespace mephisto::detail
