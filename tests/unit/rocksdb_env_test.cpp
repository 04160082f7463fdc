#include "mephisto/rocksdb_store.hpp"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <unistd.h>

namespace {

std::string fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path()
             / ("mephisto-unit-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

/// The restore tests' keys and their stored (encoded) counts.
std::string key(int i) {
  return "key-" + std::to_string(i);
}

std::string encoded(int64_t v) {
  std::string out;
  mephisto::codec<int64_t>::encode(v, out);
  return out;
}

} // namespace

// A shard dropped by a rewind lets go of its database on its own thread while the next
// shard of the same partition opens it: the open must wait for the close, never fail
// with RocksDB's "lock hold by current process".
TEST(rocksdb_env, a_partition_let_go_on_another_thread_reopens_while_it_closes) {
  auto dir = fresh_dir("reopen");
  mephisto::rocksdb_env env{dir, 8 << 20, 8 << 20};
  std::string why;
  bool created = false;
  constexpr int rounds = 60;
  int failures = 0;
  std::string first_error;
  for (int round = 0; round < rounds; ++round) {
    auto db = env.open("t", 0, why, created);
    ASSERT_TRUE(db) << mephisto::render(db.error());
    // Unflushed data makes the close (which flushes memtables) take a while.
    mephisto::rocksdb_batch batch;
    for (int i = 0; i < 2000; ++i)
      batch.put((*db)->data(), "key" + std::to_string(i), std::string(100, 'v'));
    ASSERT_FALSE((*db)->write(batch, round + 1));
    std::atomic<bool> releasing{false};
    std::thread closer{[&releasing, last = std::move(*db)]() mutable {
      releasing = true;
      last.reset();
    }};
    while (!releasing.load())
      std::this_thread::yield();
    // Land the open at different points of the close.
    std::this_thread::sleep_for(std::chrono::microseconds{(round % 10) * 200});
    auto again = env.open("t", 0, why, created);
    closer.join();
    if (!again) {
      if (++failures == 1)
        first_error = mephisto::render(again.error());
      continue;
    }
    EXPECT_EQ((*again)->offset(), round + 1);
  }
  EXPECT_EQ(failures, 0) << "first: " << first_error;
  std::filesystem::remove_all(dir);
}

// A stored value the table cannot decode is a store error naming table, partition, key and
// reason, not a user failure; the store condemns its database, whose next open (once the
// last user let go, on another thread here) starts it over empty.
TEST(rocksdb_env, an_undecodable_value_condemns_the_database_until_it_is_started_over) {
  auto dir = fresh_dir("condemn");
  mephisto::rocksdb_env env{dir, 8 << 20, 8 << 20};
  mephisto::store_place place{&env, "t", 3, 100};
  auto store = std::make_unique<mephisto::rocksdb_store<std::string, int64_t>>(place);
  std::string why;
  ASSERT_FALSE(store->open(why));
  {
    bool created = false;
    auto db = env.open("t", 3, why, created);
    ASSERT_TRUE(db);
    mephisto::rocksdb_batch batch;
    batch.put((*db)->data(), "good", "41");
    batch.put((*db)->data(), "bad\x01", "forty-two");
    ASSERT_FALSE((*db)->write(batch, 7));
  }
  ASSERT_NE(store->find("good"), nullptr);
  EXPECT_EQ(*store->find("good"), 41);
  EXPECT_EQ(store->failure(), nullptr);
  std::optional<mephisto::store_error> caught;
  try {
    ++store->at("bad\x01");
  } catch (const mephisto::store_error& e) {
    caught = e;
  }
  ASSERT_TRUE(caught);
  EXPECT_EQ(caught->table(), "t");
  EXPECT_EQ(caught->partition(), 3);
  EXPECT_EQ(caught->key(), "bad\\x01");
  EXPECT_NE(caught->reason().find("cannot be decoded"), std::string::npos) << caught->reason();
  ASSERT_NE(store->failure(), nullptr);
  EXPECT_EQ(store->failure()->key(), caught->key());
  // Still open here: the next open waits for this user, then discards the database.
  std::thread closer{[s = std::move(store)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    s.reset();
  }};
  auto next = std::make_unique<mephisto::rocksdb_store<std::string, int64_t>>(place);
  ASSERT_FALSE(next->open(why));
  closer.join();
  EXPECT_NE(why.find("local store discarded (the stored value cannot be decoded"),
            std::string::npos) << why;
  EXPECT_EQ(next->restored_offset(), 0);
  EXPECT_EQ(next->find("good"), nullptr);
  EXPECT_EQ(next->size(), 0u);
  // Started over once: the open after that keeps what is there.
  next.reset();
  auto third = std::make_unique<mephisto::rocksdb_store<std::string, int64_t>>(place);
  ASSERT_FALSE(third->open(why));
  EXPECT_EQ(why, "");
  std::filesystem::remove_all(dir);
}

// A restore large enough for table files (chunks of 50k+ keys are ingested, smaller ones go
// through the memtable), in passes whose chunks overlap: later records win across files and
// memtable writes, tombstones delete keys an earlier file holds, and what is on disk (data
// and offset) is what a reopened store reads.
TEST(rocksdb_env, a_restore_in_ingested_files_and_memtable_writes_keeps_the_last_record_of_each_key) {
  auto dir = fresh_dir("ingest");
  constexpr int keys = 300000;
  {
    mephisto::rocksdb_env env{dir, 8 << 20, 8 << 20};
    mephisto::rocksdb_store<std::string, int64_t> store{{&env, "t", 0, 1000}};
    std::string why;
    ASSERT_FALSE(store.open(why));
    int64_t offset = 0;
    for (int pass = 1; pass <= 3; ++pass) {
      for (int i = 0; i < keys; ++i) {
        // Pass 3 deletes every third key, pass 2 every fifth (pass 3 writes them again).
        auto k = static_cast<int>((int64_t{i} * 7919 + pass) % keys);
        bool tombstone = (pass == 3 && k % 3 == 0) || (pass == 2 && k % 5 == 0);
        auto value = encoded(pass * 1000000 + k);
        ASSERT_TRUE(store.restore(key(k), tombstone ? std::nullopt
                                                    : std::optional<std::string_view>{value},
                                  why))
          << why;
        ++offset;
        // 250k keys fill a chunk for the writer thread; a forced one at 430k and 860k.
        if (offset % 10000 == 0) {
          ASSERT_FALSE(store.checkpoint(offset, offset % 430000 == 0));
        }
      }
    }
    ASSERT_FALSE(store.checkpoint(offset, true));
    ASSERT_FALSE(store.restore_done());
    EXPECT_EQ(store.restored_offset(), 3 * keys);
  }
  mephisto::rocksdb_env env{dir, 8 << 20, 8 << 20};
  mephisto::rocksdb_store<std::string, int64_t> store{{&env, "t", 0, 1000}};
  std::string why;
  ASSERT_FALSE(store.open(why));
  EXPECT_EQ(store.restored_offset(), 3 * keys);
  EXPECT_EQ(store.size(), static_cast<size_t>(keys - keys / 3));
  int wrong = 0;
  for (int k = 0; k < keys; ++k) {
    auto* v = store.find(key(k));
    if (k % 3 == 0 ? v != nullptr : v == nullptr || *v != 3000000 + k)
      ++wrong;
  }
  EXPECT_EQ(wrong, 0);
  std::filesystem::remove_all(dir);
}

// A restore that ingests table files leaves them unmerged (merging each new file into the
// others was half of its CPU); once it is done, the files are merged in the background
// while writes go on unstopped, and the usual level-0 limits come back.
TEST(rocksdb_env, a_bulk_restore_merges_its_files_after_it_is_done_and_gets_the_usual_limits_back) {
  auto dir = fresh_dir("bulk");
  constexpr int files = 30;
  constexpr int per_file = 60000;
  mephisto::rocksdb_env env{dir, 8 << 20, 8 << 20};
  mephisto::rocksdb_store<std::string, int64_t> store{{&env, "t", 0, 1000}};
  std::string why;
  ASSERT_FALSE(store.open(why));
  bool created = false;
  auto db = env.open("t", 0, why, created); // the store's own database, shared
  ASSERT_TRUE(db);
  auto* native = (*db)->native();
  auto options = [&] { return native->GetOptions((*db)->data()); };
  auto files_at = [&](int level) {
    std::string n;
    native->GetProperty((*db)->data(), "rocksdb.num-files-at-level" + std::to_string(level), &n);
    return std::stoi(n);
  };
  auto level0 = [&] { return files_at(0); };
  int64_t offset = 0;
  for (int f = 0; f < files; ++f) {
    for (int i = 0; i < per_file; ++i) {
      // Every file spans the whole key range, as a changelog's chunks do; files f and
      // f + 15 hold the same keys (each key twice, once in each).
      auto k = i * (files / 2) + f % (files / 2);
      auto value = encoded(offset);
      ASSERT_TRUE(store.restore(key(k), std::optional<std::string_view>{value}, why)) << why;
      ++offset;
    }
    ASSERT_FALSE(store.checkpoint(offset, true));
  }
  // None merged while restoring: the first files went to the empty levels below, the
  // rest to level 0, more than its usual slowdown limit.
  int stored_files = 0;
  for (int level = 0; level < 7; ++level)
    stored_files += files_at(level);
  EXPECT_EQ(stored_files, files);
  EXPECT_GE(level0(), 20);
  EXPECT_EQ(options().level0_file_num_compaction_trigger, 128);
  ASSERT_FALSE(store.restore_done());
  EXPECT_EQ(options().level0_file_num_compaction_trigger, 4);
  // Writes go on while the files are merged; a write finds level 0 small again and gives
  // the limits back.
  int writes = 0;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       options().level0_slowdown_writes_trigger != 20
       && std::chrono::steady_clock::now() < deadline;
       ++writes) {
    mephisto::rocksdb_batch batch;
    batch.put((*db)->data(), "live-" + std::to_string(writes), encoded(writes));
    ASSERT_FALSE((*db)->write(batch, offset));
    if (writes % 256 == 255)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(options().level0_slowdown_writes_trigger, 20);
  EXPECT_EQ(options().level0_stop_writes_trigger, 36);
  EXPECT_LT(level0(), 20);
  EXPECT_GT(writes, 0);
  // The last record of each key won: key k came last from file k % 15 + 15, as its
  // record i = k / 15, at offset f * per_file + i.
  std::string stored;
  int wrong = 0;
  constexpr int keys = files * per_file / 2;
  for (int k = 0; k < keys; k += 997) {
    auto last = int64_t{k % (files / 2) + files / 2} * per_file + k / (files / 2);
    if (!(*db)->get(key(k), stored) || stored != encoded(last))
      ++wrong;
  }
  EXPECT_EQ(wrong, 0);
  db->reset();
  std::filesystem::remove_all(dir);
}

// A process killed while its restore wrote a table file leaves the file behind; the next
// open of the partition deletes it, and keeps the files this process's restores may be
// writing now.
TEST(rocksdb_env, an_open_removes_the_table_files_of_a_restore_that_died) {
  auto dir = fresh_dir("stale-chunks");
  auto partition_dir = dir + "/t/0";
  std::filesystem::create_directories(partition_dir);
  auto stale = partition_dir + "/restore-chunk-999999999-3.sst";
  auto own = partition_dir + "/restore-chunk-" + std::to_string(::getpid()) + "-7.sst";
  std::ofstream{stale} << "left by a killed restore";
  std::ofstream{own} << "being written";
  mephisto::rocksdb_env env{dir, 8 << 20, 8 << 20};
  std::string why;
  bool created = false;
  auto db = env.open("t", 0, why, created);
  ASSERT_TRUE(db) << mephisto::render(db.error());
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_TRUE(std::filesystem::exists(own));
  db->reset();
  std::filesystem::remove_all(dir);
}
