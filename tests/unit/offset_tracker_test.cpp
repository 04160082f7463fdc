#include "mephisto/offset_tracker.hpp"

#include <algorithm>
#include <random>
#include <vector>

#include <gtest/gtest.h>

using mephisto::offset_tracker;

TEST(offset_tracker, nothing_is_committable_before_a_batch_completes) {
  offset_tracker t;
  EXPECT_EQ(t.committable(), -1);
  t.open(100);
  EXPECT_EQ(t.committable(), -1);
  EXPECT_FALSE(t.idle());
}

TEST(offset_tracker, in_order_completion_moves_the_offset) {
  offset_tracker t;
  auto a = t.open(10);
  auto b = t.open(20);
  EXPECT_TRUE(t.complete(a));
  EXPECT_EQ(t.committable(), 10);
  EXPECT_TRUE(t.complete(b));
  EXPECT_EQ(t.committable(), 20);
  EXPECT_TRUE(t.idle());
}

TEST(offset_tracker, never_commits_past_an_unfinished_batch) {
  offset_tracker t;
  auto a = t.open(10);
  auto b = t.open(20);
  auto c = t.open(30);
  EXPECT_FALSE(t.complete(c));
  EXPECT_FALSE(t.complete(b));
  EXPECT_EQ(t.committable(), -1) << "batch a (offsets < 10) is still in flight";
  EXPECT_TRUE(t.complete(a));
  EXPECT_EQ(t.committable(), 30);
}

TEST(offset_tracker, double_or_unknown_completion_is_ignored) {
  offset_tracker t;
  auto a = t.open(5);
  EXPECT_TRUE(t.complete(a));
  EXPECT_FALSE(t.complete(a));
  EXPECT_FALSE(t.complete(a + 7));
  EXPECT_EQ(t.committable(), 5);
}

TEST(offset_tracker, rejects_batches_out_of_offset_order) {
  offset_tracker t;
  t.open(50);
  EXPECT_THROW(t.open(40), std::logic_error);
}

TEST(offset_tracker, random_completion_order_matches_the_completed_prefix) {
  std::mt19937 gen{42};
  for (int round = 0; round < 50; ++round) {
    offset_tracker t;
    std::vector<uint64_t> seqs;
    std::vector<int64_t> ends;
    int64_t offset = 0;
    for (int i = 0; i < 40; ++i) {
      offset += 1 + static_cast<int64_t>(gen() % 100);
      seqs.push_back(t.open(offset));
      ends.push_back(offset);
    }
    std::vector<size_t> order(seqs.size());
    for (size_t i = 0; i < order.size(); ++i)
      order[i] = i;
    std::shuffle(order.begin(), order.end(), gen);
    std::vector<bool> done(seqs.size(), false);
    for (auto i : order) {
      t.complete(seqs[i]);
      done[i] = true;
      // Expected: end of the longest completed prefix.
      int64_t expected = -1;
      for (size_t j = 0; j < done.size() && done[j]; ++j)
        expected = ends[j];
      ASSERT_EQ(t.committable(), expected);
    }
    EXPECT_TRUE(t.idle());
  }
}
