#include "mephisto/detail/restore_chunk.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mephisto/rocksdb_store.hpp"
#include "mephisto/test_harness.hpp"

namespace {

using mephisto::detail::restore_chunk;

void add(restore_chunk& chunk, const std::string& key, std::optional<std::string> value) {
  std::optional<std::string_view> view;
  if (value)
    view = *value;
  chunk.add(restore_chunk::hash_of(key), key, view);
}

/// What a chunk holds, in its records' order: key, then the value or nullopt.
std::vector<std::pair<std::string, std::optional<std::string>>> held(const restore_chunk& c) {
  std::vector<std::pair<std::string, std::optional<std::string>>> out;
  for (auto& r : c.records())
    out.emplace_back(std::string{c.key(r)},
                     r.present ? std::optional<std::string>{std::string{c.value(r)}}
                               : std::nullopt);
  return out;
}

/// Keys that sort in ways the 16-byte head alone cannot tell: shared 16-byte prefixes,
/// prefixes of each other, embedded zero bytes.
std::string key_of(uint64_t i) {
  switch (i % 4) {
    case 0:
      return "k-" + std::to_string(i);
    case 1:
      return "a-long-common-prefix-of-keys-" + std::to_string(i);
    case 2:
      return std::string{"z\0", 2} + std::to_string(i % 50);
    default:
      return std::string(i % 30, 'x');
  }
}

} // namespace

// Random updates, growing and shrinking values and tombstones: the chunk keeps exactly the
// last record of each key; split into ranges and sorted, it is in key order, each key once.
TEST(restore_chunk, keeps_the_last_record_of_each_key_and_sorts_them_in_split_ranges) {
  restore_chunk chunk;
  std::map<std::string, std::optional<std::string>> expected;
  std::mt19937_64 rng{7};
  for (int i = 0; i < 60000; ++i) {
    auto key = key_of(rng() % 7000);
    std::optional<std::string> value;
    if (rng() % 8 != 0)
      value = std::string(rng() % 40, static_cast<char>('a' + i % 26));
    add(chunk, key, value);
    expected[key] = value;
  }
  EXPECT_EQ(chunk.added(), 60000u);
  ASSERT_EQ(chunk.keys(), expected.size());
  for (size_t parts : {1, 3}) {
    auto starts = chunk.split(parts);
    ASSERT_EQ(starts.size(), parts + 1);
    EXPECT_EQ(starts.front(), 0u);
    EXPECT_EQ(starts.back(), chunk.keys());
    for (size_t p = 0; p < parts; ++p)
      chunk.sort(starts[p], starts[p + 1]);
    auto got = held(chunk);
    std::vector<std::pair<std::string, std::optional<std::string>>> want(expected.begin(),
                                                                          expected.end());
    EXPECT_EQ(got, want) << parts << " part(s)";
  }
}

// Records added after a sort (a forced write's chunk is sorted, a new one begins only
// after `clear`, but nothing stops an add) are still matched with the keys held.
TEST(restore_chunk, an_add_after_a_sort_still_finds_the_keys_held) {
  restore_chunk chunk;
  for (int i = 0; i < 3000; ++i)
    add(chunk, key_of(static_cast<uint64_t>(i)), std::to_string(i));
  chunk.split(1);
  chunk.sort(0, chunk.keys());
  for (int i = 0; i < 3000; i += 2)
    add(chunk, key_of(static_cast<uint64_t>(i)), std::nullopt);
  std::map<std::string, std::optional<std::string>> expected;
  for (int i = 0; i < 3000; ++i)
    expected[key_of(static_cast<uint64_t>(i))] = std::to_string(i);
  for (int i = 0; i < 3000; i += 2)
    expected[key_of(static_cast<uint64_t>(i))] = std::nullopt;
  EXPECT_EQ(chunk.keys(), expected.size());
  chunk.split(1);
  chunk.sort(0, chunk.keys());
  std::vector<std::pair<std::string, std::optional<std::string>>> want(expected.begin(),
                                                                        expected.end());
  EXPECT_EQ(held(chunk), want);
  chunk.clear();
  EXPECT_EQ(chunk.keys(), 0u);
  EXPECT_EQ(chunk.bytes(), 0u);
  EXPECT_EQ(chunk.added(), 0u);
  add(chunk, "again", std::string{"1"});
  add(chunk, "again", std::string{"22"});
  ASSERT_EQ(chunk.keys(), 1u);
  EXPECT_EQ(chunk.value(chunk.records()[0]), "22");
}

// A RocksDB restore given batches ends as one given the same records one at a time: through
// a forced chunk written as one table file (67k keys), a last chunk written in two key
// ranges at once (110k keys), and tombstones.
TEST(rocksdb_store, restore_batch_ends_as_one_by_one_restores_do) {
  auto dir = mephisto::testing::temp_dir("restore-batch");
  constexpr int records = 400000;
  constexpr uint64_t keys = 120000;
  std::mt19937_64 rng{3};
  std::vector<std::string> key(records);
  std::vector<std::optional<std::string>> value(records);
  for (int i = 0; i < records; ++i) {
    key[i] = "key-" + std::to_string(rng() % keys);
    if (rng() % 10 != 0)
      value[i] = std::to_string(i);
  }
  mephisto::rocksdb_env env{dir, 8 << 20, 8 << 20};
  mephisto::rocksdb_store<std::string, int64_t> batched{{&env, "batched", 0, 1000}};
  mephisto::rocksdb_store<std::string, int64_t> single{{&env, "single", 0, 1000}};
  std::string why;
  ASSERT_FALSE(batched.open(why));
  ASSERT_FALSE(single.open(why));
  std::vector<mephisto::restore_record> batch;
  for (int from = 0; from < records; from += 1000) {
    batch.clear();
    for (int i = from; i < from + 1000; ++i) {
      std::optional<std::string_view> v;
      if (value[i])
        v = *value[i];
      batch.push_back({key[i], v});
      ASSERT_TRUE(single.restore(key[i], v, why)) << why;
    }
    ASSERT_EQ(batched.restore_batch(batch, why), batch.size()) << why;
    // 120k keys never fill a chunk (250k): only the forced one and the last are written.
    bool force = from + 1000 == 100000;
    ASSERT_FALSE(batched.checkpoint(from + 1000, force));
    ASSERT_FALSE(single.checkpoint(from + 1000, force));
  }
  for (auto* s : {&batched, &single}) {
    ASSERT_FALSE(s->checkpoint(records, true));
    ASSERT_FALSE(s->restore_done());
    EXPECT_EQ(s->restored_offset(), records);
  }
  std::map<std::string, std::optional<int64_t>> expected;
  for (int i = 0; i < records; ++i)
    expected[key[i]] = value[i] ? std::optional<int64_t>{i} : std::nullopt;
  size_t present = 0;
  int wrong = 0;
  for (auto& [k, v] : expected) {
    present += v.has_value();
    for (auto* s : {&batched, &single}) {
      auto* got = s->find(k);
      if (v ? got == nullptr || *got != *v : got != nullptr)
        ++wrong;
    }
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_GT(present, 100000u);
  EXPECT_EQ(batched.size(), present);
  EXPECT_EQ(single.size(), present);
  std::filesystem::remove_all(dir);
}

TEST(rocksdb_store, restore_batch_keeps_the_records_before_one_it_cannot_decode_and_none_after) {
  auto dir = mephisto::testing::temp_dir("restore-batch-bad");
  mephisto::rocksdb_env env{dir, 8 << 20, 8 << 20};
  mephisto::rocksdb_store<int64_t, int64_t> s{{&env, "t", 0, 1000}};
  std::string why;
  ASSERT_FALSE(s.open(why));
  std::vector<mephisto::restore_record> bad_value{
    {"1", "10"}, {"2", "20"}, {"1", std::nullopt}, {"3", "thirty"}, {"4", "40"}};
  EXPECT_EQ(s.restore_batch(bad_value, why), 3u);
  EXPECT_EQ(why.rfind("value: ", 0), 0u) << why;
  std::vector<mephisto::restore_record> bad_key{{"5", "50"}, {"five", "50"}, {"6", "60"}};
  EXPECT_EQ(s.restore_batch(bad_key, why), 1u);
  EXPECT_EQ(why.rfind("key: ", 0), 0u) << why;
  ASSERT_FALSE(s.checkpoint(4, true));
  ASSERT_FALSE(s.restore_done());
  EXPECT_EQ(s.find(1), nullptr);
  ASSERT_NE(s.find(2), nullptr);
  EXPECT_EQ(*s.find(2), 20);
  EXPECT_EQ(s.find(3), nullptr);
  EXPECT_EQ(s.find(4), nullptr);
  ASSERT_NE(s.find(5), nullptr);
  EXPECT_EQ(*s.find(5), 50);
  EXPECT_EQ(s.find(6), nullptr);
  EXPECT_EQ(s.size(), 2u);
  std::filesystem::remove_all(dir);
}

// A chunk about as full as its buffers keeps them for the next chunk (a long restore
// reuses them); a small chunk after a large one gives them back (a standby's checkpoints
// every second after its catch-up).
TEST(restore_chunk, a_clear_keeps_buffers_it_used_and_gives_back_ones_four_times_too_large) {
  restore_chunk chunk;
  for (int i = 0; i < 100000; ++i)
    add(chunk, "key-" + std::to_string(i), std::to_string(i));
  auto full = chunk.held_bytes();
  EXPECT_GT(full, 100000u * sizeof(restore_chunk::record));
  chunk.clear();
  EXPECT_EQ(chunk.held_bytes(), full);
  for (int i = 0; i < 10; ++i)
    add(chunk, "key-" + std::to_string(i), std::to_string(i));
  chunk.clear();
  EXPECT_LT(chunk.held_bytes(), 1024u);
  // Still a working chunk.
  add(chunk, "again", std::string{"1"});
  add(chunk, "again", std::nullopt);
  ASSERT_EQ(chunk.keys(), 1u);
  EXPECT_FALSE(chunk.records()[0].present);
}

// A restore's writer gives its chunks back once the restore is over; what it wrote stays.
TEST(restore_writer, release_gives_back_the_chunks_and_keeps_what_was_written) {
  auto dir = mephisto::testing::temp_dir("restore-writer-release");
  mephisto::rocksdb_env env{dir, 8 << 20, 8 << 20};
  std::string why;
  bool created = false;
  auto db = env.open("t", 0, why, created);
  ASSERT_TRUE(db) << why;
  {
    mephisto::detail::restore_writer writer;
    std::vector<std::string> keys;
    for (int i = 0; i < 120000; ++i)
      keys.push_back("key-" + std::to_string(i));
    std::vector<mephisto::restore_record> batch;
    for (auto& k : keys)
      batch.push_back({k, std::optional<std::string_view>{k}});
    writer.add(batch);
    ASSERT_FALSE(writer.write(*db, 120000, true));
    ASSERT_FALSE(writer.wait());
    // The written chunk was about as full as its buffers: kept for a next one.
    EXPECT_GT(writer.held_bytes(), 120000u * sizeof(restore_chunk::record));
    ASSERT_FALSE(writer.release());
    EXPECT_LT(writer.held_bytes(), 1024u);
  }
  std::string value;
  ASSERT_TRUE((*db)->get("key-119999", value));
  EXPECT_EQ(value, "key-119999");
  EXPECT_EQ((*db)->offset(), 120000);
  db->reset();
  std::filesystem::remove_all(dir);
}
