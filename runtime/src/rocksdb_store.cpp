#include "mephisto/rocksdb_store.hpp"

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include <unistd.h>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include "mephisto/log.hpp"

namespace mephisto {

namespace {

constexpr const char* offset_key = "changelog-offset";

caf::error io_error(const std::string& what, const rocksdb::Status& st) {
  return make_error(errc::store_failed, what + ": " + st.ToString());
}

} // namespace

durable_write::~durable_write() = default;

// -- rocksdb_batch ----------------------------------------------------------------------

// The batch is made on first use, so that a moved-from batch is an empty one again.

rocksdb_batch::rocksdb_batch() = default;
rocksdb_batch::rocksdb_batch(rocksdb_batch&&) noexcept = default;
rocksdb_batch& rocksdb_batch::operator=(rocksdb_batch&&) noexcept = default;
rocksdb_batch::~rocksdb_batch() = default;

void rocksdb_batch::put(rocksdb::ColumnFamilyHandle* family, std::string_view key,
                        std::string_view value) {
  native().Put(family, rocksdb::Slice{key.data(), key.size()},
               rocksdb::Slice{value.data(), value.size()});
}

void rocksdb_batch::erase(rocksdb::ColumnFamilyHandle* family, std::string_view key) {
  native().Delete(family, rocksdb::Slice{key.data(), key.size()});
}

size_t rocksdb_batch::count() const {
  return batch_ ? static_cast<size_t>(batch_->Count()) : 0;
}

void rocksdb_batch::clear() {
  if (batch_)
    batch_->Clear();
}

rocksdb::WriteBatch& rocksdb_batch::native() {
  if (!batch_)
    batch_ = std::make_unique<rocksdb::WriteBatch>();
  return *batch_;
}

// -- rocksdb_partition ------------------------------------------------------------------

std::string rocksdb_partition::encode_offset(int64_t offset) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(offset & 0xff);
    offset >>= 8;
  }
  return out;
}

int64_t rocksdb_partition::decode_offset(std::string_view stored) {
  if (stored.size() != 8)
    return 0;
  int64_t offset = 0;
  for (unsigned char c : stored)
    offset = (offset << 8) | c;
  return offset;
}

rocksdb_partition::rocksdb_partition(std::string path, rocksdb::DB* db,
                                     std::vector<rocksdb::ColumnFamilyHandle*> handles)
  : path_(std::move(path)), db_(db), handles_(std::move(handles)) {
}

rocksdb_partition::~rocksdb_partition() {
  for (auto* h : handles_)
    db_->DestroyColumnFamilyHandle(h);
  db_->Close();
  delete db_;
}

int64_t rocksdb_partition::offset() const {
  std::string value;
  auto st = db_->Get(rocksdb::ReadOptions{}, handles_[2], offset_key, &value);
  return st.ok() ? decode_offset(value) : 0;
}

bool rocksdb_partition::get(std::string_view key, std::string& value) {
  std::string error;
  auto res = read(key, value, error);
  if (res == read_result::failed)
    throw std::runtime_error("RocksDB read in " + path_ + ": " + error);
  return res == read_result::found;
}

rocksdb_partition::read_result rocksdb_partition::read(std::string_view key, std::string& value,
                                                       std::string& error) {
  auto st = db_->Get(rocksdb::ReadOptions{}, data(), rocksdb::Slice{key.data(), key.size()},
                     &value);
  if (st.ok())
    return read_result::found;
  if (st.IsNotFound())
    return read_result::missing;
  error = st.ToString();
  return read_result::failed;
}

namespace {

/// RocksDB's level-0 limits (files) at which writes slow down and stop, as the data's
/// options have them: given back once a bulk load's files are merged.
constexpr int level0_slowdown_files = 20;
constexpr int level0_stop_files = 36;

/// Level-0 files that start a compaction: as usual (RocksDB's default), and while a restore
/// ingests table files, when merging them once is far cheaper than four at a time, yet
/// their number stays bounded for a table of any size (10M keys make about 120 files).
constexpr int level0_compaction_files = 4;
constexpr int bulk_level0_files = 128;

} // namespace

void rocksdb_partition::set_data_options(
  const std::unordered_map<std::string, std::string>& changes) {
  // A refused change leaves the table as fast and correct as before, only slower to
  // load or to merge: said, not fatal.
  if (auto st = db_->SetOptions(data(), changes); !st.ok())
    log().warn("{}: RocksDB refused an option change: {}", path_, st.ToString());
}

void rocksdb_partition::begin_bulk_load() {
  std::lock_guard<std::mutex> guard{bulk_mtx_};
  if (bulk_)
    return;
  bulk_ = true;
  settling_ = false;
  auto limit = std::to_string(1 << 30);
  set_data_options({{"level0_file_num_compaction_trigger", std::to_string(bulk_level0_files)},
                    {"level0_slowdown_writes_trigger", limit},
                    {"level0_stop_writes_trigger", limit}});
}

void rocksdb_partition::end_bulk_load() {
  std::lock_guard<std::mutex> guard{bulk_mtx_};
  if (!bulk_)
    return;
  bulk_ = false;
  set_data_options({{"level0_file_num_compaction_trigger", std::to_string(level0_compaction_files)}});
  settling_ = true;
}

void rocksdb_partition::settle_after_bulk_load() {
  if (!settling_.load(std::memory_order_relaxed)
      || writes_.fetch_add(1, std::memory_order_relaxed) % 256 != 0)
    return;
  std::string files;
  if (!db_->GetProperty(data(), "rocksdb.num-files-at-level0", &files)
      || std::atoi(files.c_str()) >= level0_slowdown_files)
    return;
  std::lock_guard<std::mutex> guard{bulk_mtx_};
  if (bulk_ || !settling_)
    return;
  settling_ = false;
  set_data_options({{"level0_slowdown_writes_trigger", std::to_string(level0_slowdown_files)},
                    {"level0_stop_writes_trigger", std::to_string(level0_stop_files)}});
}

caf::error rocksdb_partition::write(rocksdb_batch& data, int64_t next_offset) {
  settle_after_bulk_load();
  auto& batch = data.native();
  if (next_offset >= 0)
    batch.Put(handles_[2], offset_key, encode_offset(next_offset));
  // The WAL is written but not synced: the data survives a killed process (the page
  // cache has it), and an OS crash at worst loses a suffix, offset included.
  auto st = db_->Write(rocksdb::WriteOptions{}, &batch);
  return st.ok() ? caf::none : io_error("RocksDB write in " + path_, st);
}

caf::error rocksdb_partition::write_unlogged(rocksdb_batch& data, int64_t next_offset) {
  auto& batch = data.native();
  if (next_offset >= 0)
    batch.Put(handles_[2], offset_key, encode_offset(next_offset));
  // No WAL: a crash loses what is not flushed, the offset with it (atomic_flush keeps the
  // column families together), so the store falls back to an older, consistent point.
  rocksdb::WriteOptions opts;
  opts.disableWAL = true;
  auto st = db_->Write(opts, &batch);
  return st.ok() ? caf::none : io_error("RocksDB write in " + path_, st);
}

caf::error rocksdb_partition::flush() {
  auto st = db_->Flush(rocksdb::FlushOptions{}, handles_);
  return st.ok() ? caf::none : io_error("RocksDB flush in " + path_, st);
}

caf::error rocksdb_partition::clear() {
  {
    // The data is made anew with the usual options.
    std::lock_guard<std::mutex> guard{bulk_mtx_};
    bulk_ = false;
    settling_ = false;
  }
  for (size_t i = 1; i < handles_.size(); ++i) {
    auto name = handles_[i]->GetName();
    auto st = db_->DropColumnFamily(handles_[i]);
    if (!st.ok())
      return io_error("RocksDB drop in " + path_, st);
    db_->DestroyColumnFamilyHandle(handles_[i]);
    handles_[i] = nullptr;
    st = db_->CreateColumnFamily(rocksdb::ColumnFamilyOptions{db_->GetOptions()}, name,
                                 &handles_[i]);
    if (!st.ok())
      return io_error("RocksDB create in " + path_, st);
  }
  return caf::none;
}

void rocksdb_partition::scan(
  const std::function<void(std::string_view, std::string_view)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(rocksdb::ReadOptions{}, data())};
  for (it->SeekToFirst(); it->Valid(); it->Next())
    fn(std::string_view{it->key().data(), it->key().size()},
       std::string_view{it->value().data(), it->value().size()});
}

size_t rocksdb_partition::count() const {
  size_t n = 0;
  scan([&n](std::string_view, std::string_view) { ++n; });
  return n;
}

// -- rocksdb_env ------------------------------------------------------------------------

rocksdb_env::rocksdb_env(std::string root, size_t cache_bytes, size_t write_buffer_bytes,
                         bool direct_reads)
  : root_(std::move(root)),
    direct_reads_(direct_reads),
    cache_(rocksdb::NewLRUCache(cache_bytes)),
    write_buffers_(std::make_shared<rocksdb::WriteBufferManager>(write_buffer_bytes, cache_)) {
}

size_t rocksdb_env::block_cache_bytes() const {
  return cache_->GetUsage();
}

size_t rocksdb_env::memtable_bytes() const {
  return write_buffers_->memory_usage();
}

std::shared_ptr<rocksdb_env::slot> rocksdb_env::slot_of(const std::string& path) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& s = open_[path];
  if (!s)
    s = std::make_shared<slot>();
  return s;
}

void rocksdb_env::condemn(const std::string& table, int32_t partition,
                          const std::string& reason) {
  auto place = slot_of(root_ + "/" + table + "/" + std::to_string(partition));
  std::lock_guard<std::mutex> guard{place->mtx};
  if (place->condemned.empty())
    place->condemned = reason.empty() ? "condemned" : reason;
}

namespace {

/// Deletes the table files a restore of another process was writing when it died
/// (`restore-chunk-<pid>-<n>.sst`, see restore_writer): RocksDB never reads them. Called
/// with the database open, so that no other process uses the directory (RocksDB's lock);
/// this process's own files may be in flight.
void remove_stale_restore_files(const std::string& path) {
  namespace fs = std::filesystem;
  auto own = "restore-chunk-" + std::to_string(::getpid()) + "-";
  std::error_code ec;
  for (auto& file : fs::directory_iterator{path, ec}) {
    auto name = file.path().filename().string();
    if (name.rfind("restore-chunk-", 0) == 0 && name.rfind(own, 0) != 0) {
      fs::remove(file.path(), ec);
      log().info("{}: removed {}, left by a restore that did not finish", path, name);
    }
  }
}

} // namespace

expected<std::shared_ptr<rocksdb_partition>>
rocksdb_env::open(const std::string& table, int32_t partition, std::string& why,
                  bool& created) {
  namespace fs = std::filesystem;
  why.clear();
  auto path = root_ + "/" + table + "/" + std::to_string(partition);
  auto place = slot_of(path);
  std::unique_lock<std::mutex> guard{place->mtx};
  // A condemned database is never shared: wait for its users to let go, then start over.
  if (auto db = place->db.lock(); db && place->condemned.empty()) {
    created = false;
    return db;
  }
  // The last user let go and another thread is closing it now: a few ms, or the time to
  // flush its memtables (a slow disk: logged, and bounded).
  auto closed = [&place] { return place->open_dbs == 0; };
  for (int waited = 0; !place->closed.wait_for(guard, std::chrono::seconds(5), closed);) {
    if ((waited += 5) >= 120)
      return make_error(errc::store_failed, path + " is still open elsewhere in this process "
                                                   "after 120 s");
    log().warn("{}: waiting {} s for its previous user to close it", path, waited);
  }
  std::error_code ec;
  created = !fs::exists(path + "/CURRENT", ec);
  fs::create_directories(path, ec);
  if (ec)
    return make_error(errc::store_failed, "cannot create " + path + ": " + ec.message());
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.create_missing_column_families = true;
  opts.write_buffer_manager = write_buffers_;
  opts.max_open_files = 256;
  opts.keep_log_file_num = 2;
  opts.max_background_jobs = 2;
  opts.use_direct_reads = direct_reads_;
  // Data and offset live in two column families: flush them together, so that unlogged
  // restore writes can never leave an offset on disk without its data (or the reverse).
  opts.atomic_flush = true;
  rocksdb::BlockBasedTableOptions table_opts;
  table_opts.block_cache = cache_;
  table_opts.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10, false));
  table_opts.cache_index_and_filter_blocks = true;
  rocksdb::ColumnFamilyOptions cf_opts{opts};
  cf_opts.write_buffer_size = 32 << 20;
  cf_opts.level0_file_num_compaction_trigger = level0_compaction_files;
  cf_opts.level0_slowdown_writes_trigger = level0_slowdown_files;
  cf_opts.level0_stop_writes_trigger = level0_stop_files;
  cf_opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_opts));
  std::vector<rocksdb::ColumnFamilyDescriptor> families{
    {rocksdb::kDefaultColumnFamilyName, cf_opts}, {"data", cf_opts}, {"meta", cf_opts}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  // Corrupt, not ours, or condemned: never serve it; start over (the changelog has
  // everything).
  auto start_over = [&](const std::string& reason) {
    why = "local store discarded (" + reason + ")";
    log().warn("{}: {}; rebuilding it from the changelog", path, why);
    rocksdb::DestroyDB(path, opts);
    fs::remove_all(path, ec);
    fs::create_directories(path, ec);
    handles.clear();
  };
  if (!place->condemned.empty()) {
    start_over(place->condemned);
    place->condemned.clear();
  }
  auto st = rocksdb::DB::Open(rocksdb::DBOptions{opts}, path, families, &handles, &db);
  if (!st.ok() && !st.IsBusy() && !st.IsIOError()) {
    start_over(st.ToString());
    st = rocksdb::DB::Open(rocksdb::DBOptions{opts}, path, families, &handles, &db);
  }
  if (!st.ok())
    return io_error("cannot open RocksDB at " + path, st);
  remove_stale_restore_files(path);
  // Weak: the slot's `db` keeps this deleter alive, a strong handle would be a cycle.
  auto close = [weak = std::weak_ptr<slot>{place}](rocksdb_partition* closing) {
    delete closing;
    if (auto place = weak.lock()) {
      std::lock_guard<std::mutex> guard{place->mtx};
      --place->open_dbs;
      place->closed.notify_all();
    }
  };
  std::shared_ptr<rocksdb_partition> part{
    new rocksdb_partition(path, db, std::move(handles)), close};
  ++place->open_dbs;
  place->db = part;
  return part;
}

} // namespace mephisto
