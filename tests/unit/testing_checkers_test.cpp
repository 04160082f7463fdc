// mephisto::testing's checkers: each passes on what its guarantee promises and names the
// first divergence (key, expected, got, partition, offset) on what it does not.

#include <gtest/gtest.h>

#include "mephisto/testing.hpp"

using namespace mephisto::testing;

namespace {

topic_record rec(std::string key, std::string value, int32_t partition, int64_t offset,
                 bool has_value = true) {
  topic_record r;
  r.key = std::move(key);
  r.value = std::move(value);
  r.partition = partition;
  r.offset = offset;
  r.has_value = has_value;
  return r;
}

std::vector<topic_record> counts(const std::string& key, int32_t partition,
                                 std::vector<int> values, int64_t first_offset = 0) {
  std::vector<topic_record> out;
  for (auto v : values)
    out.push_back(rec(key, std::to_string(v), partition, first_offset++));
  return out;
}

std::vector<topic_record> operator+(std::vector<topic_record> a,
                                    const std::vector<topic_record>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

} // namespace

TEST(testing_checkers, exactly_once_passes_exact_running_counts_in_offset_order) {
  auto out = counts("red", 4, {1, 2, 3}) + counts("blue", 0, {1});
  auto r = check_exactly_once(out, {{"red", 3}, {"blue", 1}});
  EXPECT_TRUE(r) << r.message();
  EXPECT_EQ(r.records, 4u);
  EXPECT_FALSE(r.first);
}

TEST(testing_checkers, exactly_once_names_a_repeat_a_gap_and_a_foreign_key) {
  auto repeat = check_exactly_once(counts("red", 4, {1, 2, 2, 3}), {{"red", 3}});
  EXPECT_FALSE(repeat);
  EXPECT_EQ(repeat.duplicates, 1u);
  ASSERT_TRUE(repeat.first);
  EXPECT_EQ(repeat.first->key, "red");
  EXPECT_EQ(repeat.first->expected, "3");
  EXPECT_EQ(repeat.first->got, "2");
  EXPECT_EQ(repeat.first->partition, 4);
  EXPECT_EQ(repeat.first->offset, 2);
  EXPECT_NE(repeat.message().find("key 'red' at partition 4 offset 2: expected 3, got 2"),
            std::string::npos)
    << repeat.message();
  auto gap = check_exactly_once(counts("red", 4, {1, 3}), {{"red", 3}});
  EXPECT_FALSE(gap);
  EXPECT_EQ(gap.missing, 1u);
  EXPECT_EQ(gap.first->expected, "2");
  EXPECT_EQ(gap.first->got, "3");
  auto short_run = check_exactly_once(counts("red", 4, {1, 2}), {{"red", 3}});
  EXPECT_FALSE(short_run);
  EXPECT_EQ(short_run.first->expected, "3");
  EXPECT_EQ(short_run.first->got, "no record");
  EXPECT_EQ(short_run.first->partition, -1);
  auto foreign = check_exactly_once(counts("red", 4, {1}) + counts("cat", 1, {1}), {{"red", 1}});
  EXPECT_FALSE(foreign);
  EXPECT_EQ(foreign.unexpected, 1u);
  EXPECT_EQ(foreign.first->key, "cat");
  auto two_partitions = check_exactly_once(counts("red", 4, {1}) + counts("red", 5, {2}),
                                           {{"red", 2}});
  EXPECT_FALSE(two_partitions);
  EXPECT_EQ(two_partitions.first->got, "partition 5");
}

TEST(testing_checkers, at_least_once_allows_repeats_but_not_gaps) {
  auto out = counts("red", 4, {1, 2, 1, 2, 3});
  auto r = check_at_least_once(out, {{"red", 3}});
  EXPECT_TRUE(r) << r.message();
  EXPECT_EQ(r.duplicates, 2u);
  auto lost = check_at_least_once(counts("red", 4, {1, 3, 1}), {{"red", 3}});
  EXPECT_FALSE(lost);
  EXPECT_EQ(lost.missing, 1u);
  EXPECT_EQ(lost.first->expected, "2");
  // Counted again after a restart: allowed under at-least-once, reported.
  auto beyond = check_at_least_once(counts("red", 4, {1, 2, 3, 4}), {{"red", 3}});
  EXPECT_TRUE(beyond) << beyond.message();
  EXPECT_EQ(beyond.past_truth, 1u);
  EXPECT_NE(beyond.message().find("1 counts past the truth"), std::string::npos);
  // ... but not a gap, a count below 1, or a key never sent.
  auto gap_and_beyond = check_at_least_once(counts("red", 4, {1, 3, 4}), {{"red", 3}});
  EXPECT_FALSE(gap_and_beyond);
  EXPECT_EQ(gap_and_beyond.first->expected, "2");
  auto zero = check_at_least_once(counts("red", 4, {0, 1, 2, 3}), {{"red", 3}});
  EXPECT_FALSE(zero);
  EXPECT_EQ(zero.first->got, "0");
  auto other_key = check_at_least_once(counts("blue", 4, {1}), {{"red", 0}});
  EXPECT_FALSE(other_key);
  // Exactly-once: a count past the truth is a divergence.
  auto beyond_exact = check_exactly_once(counts("red", 4, {1, 2, 3, 4}), {{"red", 3}});
  EXPECT_FALSE(beyond_exact);
  EXPECT_EQ(beyond_exact.first->offset, 3);
  auto extra_exact = check_exactly_once(counts("red", 4, {1, 2, 2}), {{"red", 2}});
  EXPECT_EQ(extra_exact.first->expected, "no record after count 2");
}

TEST(testing_checkers, changelog_replay_last_value_wins_and_tombstones_delete) {
  std::vector<topic_record> changelog{
    rec("a", "1", 0, 0), rec("b", "1", 1, 0), rec("a", "2", 0, 1), rec("b", "", 1, 1, false),
    rec("c", "7", 0, 2)};
  auto ok = check_changelog_matches_table(changelog, {{"a", "2"}, {"c", "7"}});
  EXPECT_TRUE(ok) << ok.message();
  auto stale = check_changelog_matches_table(changelog, {{"a", "3"}, {"c", "7"}});
  EXPECT_FALSE(stale);
  EXPECT_EQ(stale.first->key, "a");
  EXPECT_EQ(stale.first->expected, "3");
  EXPECT_EQ(stale.first->got, "2");
  EXPECT_EQ(stale.first->offset, 1);
  auto deleted = check_changelog_matches_table(changelog, {{"a", "2"}, {"b", "1"}, {"c", "7"}});
  EXPECT_FALSE(deleted);
  EXPECT_EQ(deleted.first->key, "b");
  EXPECT_EQ(deleted.first->got, "a tombstone");
  auto extra = check_changelog_matches_table(changelog, {{"a", "2"}});
  EXPECT_FALSE(extra);
  EXPECT_EQ(extra.first->key, "c");
}

TEST(testing_checkers, no_event_lost_counts_processed_and_dead_lettered_inputs) {
  std::vector<topic_record> input{rec("k", "x", 0, 10), rec("k", "y", 0, 11), rec("k", "z", 1, 5)};
  auto dead = rec("k", "y", 0, 0);
  dead.headers = {
    {"mephisto.topic", "input"}, {"mephisto.partition", "0"}, {"mephisto.offset", "11"}};
  auto ok = check_no_event_lost("input", input, {{0, 10}, {1, 5}}, {dead});
  EXPECT_TRUE(ok) << ok.message();
  auto lost = check_no_event_lost("input", input, {{0, 10}}, {dead});
  EXPECT_FALSE(lost);
  EXPECT_EQ(lost.missing, 1u);
  EXPECT_EQ(lost.first->partition, 1);
  EXPECT_EQ(lost.first->offset, 5);
  // A dead letter of another topic does not count.
  dead.headers["mephisto.topic"] = "other";
  EXPECT_FALSE(check_no_event_lost("input", input, {{0, 10}, {1, 5}}, {dead}));
}
