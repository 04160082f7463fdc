#include "mephisto/rocksdb_store.hpp"

#include <atomic>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <unistd.h>

namespace {

std::string fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path()
             / ("mephisto-unit-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
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
