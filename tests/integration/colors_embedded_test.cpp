// The colors app end to end inside this process, on the embedded broker: 100k words over
// all 8 input partitions, exact counts on `output` and in the table.

#include <map>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "colors_app.hpp"
#include "mephisto/actors/env.hpp"
#include "mephisto/worker.hpp"
#include "support/testkit.hpp"

using namespace std::chrono_literals;

namespace {

mephisto::worker_options embedded_options() {
  mephisto::worker_options opts;
  opts.broker = "embedded";
  opts.threads = 2;
  opts.commit_interval_ms = 200;
  opts.log_level = "warn";
  return opts;
}

} // namespace

TEST(colors_embedded, counts_100k_words_exactly) {
  mephisto::app app{"colors"};
  colors::declare(app);
  auto opts = embedded_options();
  mephisto::worker w{app.resolve(opts), opts};
  ASSERT_FALSE(w.start());
  auto words = testkit::make_words(100'000, 1);
  testkit::produce(w.bootstrap(), "input", words.words);
  auto output = testkit::consume(w.bootstrap(), "output", words.color_words, 90s);
  testkit::expect_exact_running_counts(output, words.colors);
  // Input reached every partition.
  auto input = testkit::consume(w.bootstrap(), "input", words.words.size(), 30s);
  std::map<int32_t, size_t> per_partition;
  for (auto& r : input)
    ++per_partition[r.partition];
  EXPECT_EQ(per_partition.size(), 8u);
  // The table holds the same counts.
  auto rows = w.table_snapshot("colors-count");
  ASSERT_TRUE(rows) << mephisto::render(rows.error());
  std::map<std::string, int64_t> table;
  for (auto& [k, v] : *rows)
    table[k] = std::stoll(v);
  EXPECT_EQ(table, words.colors);
  EXPECT_EQ(w.stats().events.load(), words.words.size() + words.color_words);
  EXPECT_EQ(w.stats().decode_errors.load(), 0u);
  EXPECT_EQ(w.stats().failures.load(), 0u);
  w.stop();
  EXPECT_FALSE(w.wait());
}

namespace {

/// Sums numbers per key; a non-number is an undecodable event, 13 makes the user
/// function throw.
void declare_summer(mephisto::app& app) {
  auto numbers = app.topic<int64_t>("numbers", {.partitions = 2});
  auto totals = app.table<std::string, int64_t>("totals", {.partitions = 2});
  auto seen = app.topic<std::string, int64_t>("seen", {.partitions = 2});
  app.agent(
    "sum", numbers,
    [=](const int64_t& x, mephisto::context& ctx) {
      ctx.send(seen, "x", x); // rolled back when the function throws
      if (x == 13)
        throw std::runtime_error("unlucky number");
      ctx[totals]["sum"] += x;
    },
    {.tables = {totals}});
}

} // namespace

TEST(colors_embedded, bad_events_are_counted_and_skipped_without_stopping) {
  mephisto::app app{"summer"};
  declare_summer(app);
  auto opts = embedded_options();
  mephisto::worker w{app.resolve(opts), opts};
  ASSERT_FALSE(w.start());
  std::vector<std::pair<std::string, std::string>> records{
    {"k", "1"}, {"k", "two"}, {"k", "13"}, {"k", "3"}, {"k", ""}, {"k", "4.5"}, {"k", "5"}};
  testkit::produce_keyed(w.bootstrap(), "numbers", records);
  auto seen = testkit::consume(w.bootstrap(), "seen", 3, 60s);
  ASSERT_EQ(seen.size(), 3u);
  // Everything is processed once the three good numbers were seen; wait for the stats.
  for (int i = 0; i < 100 && w.stats().events.load() < records.size(); ++i)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(w.stats().events.load(), records.size());
  EXPECT_EQ(w.stats().decode_errors.load(), 3u); // "two", "", "4.5"
  EXPECT_EQ(w.stats().failures.load(), 1u);      // 13
  EXPECT_EQ(w.stats().sent.load(), 3u) << "the failed event's send was rolled back";
  auto rows = w.table_snapshot("totals");
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].second, "9");
  w.stop();
  EXPECT_FALSE(w.wait());
}

TEST(colors_embedded, a_table_on_a_topic_with_other_partitioning_is_refused) {
  mephisto::app app{"mismatch"};
  auto in = app.topic<std::string>("in", {.partitions = 3});
  auto t = app.table<std::string, int64_t>("t", {.partitions = 4});
  app.agent(
    "a", in, [=](const std::string& s, mephisto::context& ctx) { ++ctx[t][s]; },
    {.tables = {t}});
  auto opts = embedded_options();
  mephisto::worker w{app.resolve(opts), opts};
  auto err = w.start();
  ASSERT_TRUE(err);
  EXPECT_NE(mephisto::render(err).find("co-partitioned"), std::string::npos)
    << mephisto::render(err);
}
