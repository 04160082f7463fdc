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

restore_writer::restore_writer() = default;

restore_writer::~restore_writer() {
  wait();
}

void restore_writer::add(std::string_view key, std::optional<std::string_view> value) {
  auto it = filling_.find(key); // no allocation for a key seen before
  if (it == filling_.end())
    it = filling_.try_emplace(std::string{key}).first;
  if (value) {
    it->second.first = true;
    it->second.second.assign(value->data(), value->size());
  } else {
    it->second.first = false;
    it->second.second.clear();
  }
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
  // In key order: the memtable's skip list inserts a key after the previous one cheaply
  // (a random order made its searches most of the restore's time).
  // Each entry carries its key's first 16 bytes, so that most comparisons read the sorted
  // array and not the chunk (reading the chunk's entries at random was half the sort).
  struct keyed {
    uint64_t head[2]; ///< the key's first 16 bytes, big-endian, zero-padded
    chunk::value_type* kv;
  };
  std::vector<keyed> by_head;
  by_head.reserve(out.size());
  for (auto& kv : out) {
    unsigned char bytes[16] = {};
    std::memcpy(bytes, kv.first.data(), std::min<size_t>(16, kv.first.size()));
    keyed k{{0, 0}, &kv};
    for (int i = 0; i < 16; ++i)
      k.head[i / 8] = (k.head[i / 8] << 8) | bytes[i];
    by_head.push_back(k);
  }
  std::sort(by_head.begin(), by_head.end(), [](const keyed& x, const keyed& y) {
    if (x.head[0] != y.head[0])
      return x.head[0] < y.head[0];
    if (x.head[1] != y.head[1])
      return x.head[1] < y.head[1];
    return x.kv->first < y.kv->first; // equal heads (or zero padding): the whole keys
  });
  std::vector<chunk::value_type*> order;
  order.reserve(by_head.size());
  for (auto& k : by_head)
    order.push_back(k.kv);
  by_head = {};
  rocksdb_batch batch;
  if (order.size() >= min_file_keys) {
    if (auto err = ingest(db, order))
      return err;
  } else {
    for (auto* kv : order) {
      if (kv->second.first)
        batch.put(db.data(), kv->first, kv->second.second);
      else
        batch.erase(db.data(), kv->first);
    }
  }
  out.clear();
  // After the data: a crash in between leaves an older offset, and the restore then
  // applies some records again, which ends in the same state.
  return db.write_unlogged(batch, next_offset);
}

caf::error restore_writer::ingest(rocksdb_partition& db,
                                  const std::vector<chunk::value_type*>& sorted) {
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
  for (auto it = sorted.begin(); st.ok() && it != sorted.end(); ++it) {
    auto& [key, record] = **it;
    st = record.first ? file.Put(key, record.second) : file.Delete(key);
  }
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
