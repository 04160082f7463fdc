// The colors app end to end inside this process, on the embedded broker: 100k words over
// all 8 input partitions, exact counts on `output` and in the table.

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
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
  opts.web_listen = "127.0.0.1:0";
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
  // The same through the lookup API (routed by the cluster actor; here all is local).
  for (auto& [color, n] : words.colors) {
    auto value = w.table_get("colors-count", color);
    ASSERT_TRUE(value) << mephisto::render(value.error());
    ASSERT_TRUE(value->has_value()) << color;
    EXPECT_EQ(**value, std::to_string(n)) << color;
  }
  auto absent = w.table_get("colors-count", "pink");
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->has_value());
  EXPECT_FALSE(w.table_get("no-such-table", "red"));
  EXPECT_EQ(w.stats().events.load(), words.words.size() + words.color_words);
  EXPECT_EQ(w.stats().decode_errors.load(), 0u);
  EXPECT_EQ(w.stats().failures.load(), 0u);
  w.stop();
  EXPECT_FALSE(w.wait());
}

namespace {

/// Sums numbers per key; a non-number is an undecodable event, 13 makes the user
/// function throw after it changed the table.
void declare_summer(mephisto::app& app) {
  auto numbers = app.topic<int64_t>("numbers", {.partitions = 2});
  auto totals = app.table<std::string, int64_t>("totals", {.partitions = 2});
  auto seen = app.topic<std::string, int64_t>("seen", {.partitions = 2});
  app.agent(
    "sum", numbers,
    [=](const int64_t& x, mephisto::context& ctx) {
      ctx.send(seen, "x", x);  // rolled back when the function throws
      ctx[totals]["sum"] += x; // undone when the function throws
      if (x == 13)
        throw std::runtime_error("unlucky number");
    },
    {.tables = {totals}});
}

} // namespace

TEST(colors_embedded, bad_events_are_retried_then_dead_lettered_without_stopping) {
  mephisto::app app{"summer"};
  declare_summer(app);
  auto opts = embedded_options();
  opts.retry_attempts = 3;
  opts.retry_backoff_ms = 20;
  mephisto::worker w{app.resolve(opts), opts};
  ASSERT_FALSE(w.start());
  std::vector<std::pair<std::string, std::string>> records{
    {"k", "1"}, {"k", "two"}, {"k", "13"}, {"k", "3"}, {"k", ""}, {"k", "4.5"}, {"k", "5"}};
  testkit::produce_keyed(w.bootstrap(), "numbers", records);
  auto seen = testkit::consume(w.bootstrap(), "seen", 3, 60s);
  ASSERT_EQ(seen.size(), 3u);
  auto dead = testkit::consume(w.bootstrap(), "summer-dead-letter", 4, 60s);
  ASSERT_EQ(dead.size(), 4u);
  std::map<std::string, std::map<std::string, std::string>> by_offset;
  for (auto& d : dead) {
    EXPECT_EQ(d.key, "k");
    EXPECT_EQ(d.headers["mephisto.topic"], "numbers");
    EXPECT_EQ(d.headers["mephisto.agent"], "sum");
    by_offset[d.headers["mephisto.offset"]] = d.headers;
    by_offset[d.headers["mephisto.offset"]]["value"] = d.value;
  }
  ASSERT_EQ(by_offset.size(), 4u);
  EXPECT_EQ(by_offset["1"]["value"], "two");
  EXPECT_EQ(by_offset["1"]["mephisto.error.kind"], "decode");
  EXPECT_EQ(by_offset["1"]["mephisto.error"], "expected an integer");
  EXPECT_EQ(by_offset["2"]["value"], "13");
  EXPECT_EQ(by_offset["2"]["mephisto.error.kind"], "exception");
  EXPECT_EQ(by_offset["2"]["mephisto.error"], "unlucky number");
  EXPECT_EQ(by_offset["2"]["mephisto.attempts"], "3");
  EXPECT_EQ(by_offset["4"]["value"], "");
  EXPECT_EQ(by_offset["5"]["value"], "4.5");
  for (int i = 0; i < 100 && w.stats().events.load() < records.size(); ++i)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(w.stats().events.load(), records.size());
  EXPECT_EQ(w.stats().decode_errors.load(), 3u); // "two", "", "4.5"
  EXPECT_EQ(w.stats().failures.load(), 1u);      // 13, on every attempt
  EXPECT_EQ(w.stats().retries.load(), 2u);
  EXPECT_EQ(w.stats().dead_letters.load(), 4u);
  EXPECT_EQ(w.stats().sent.load(), 3u) << "the failed event's sends were rolled back";
  auto rows = w.table_snapshot("totals");
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].second, "9") << "the failed event's table change was undone";
  w.stop();
  EXPECT_FALSE(w.wait());
}

TEST(colors_embedded, one_percent_poison_events_end_exactly_in_the_dead_letter_topic) {
  mephisto::app app{"poison"};
  auto numbers = app.topic<int64_t>("numbers", {.partitions = 4});
  auto totals = app.table<std::string, int64_t>("totals", {.partitions = 4});
  app.agent(
    "sum", numbers,
    [=](const int64_t& x, mephisto::context& ctx) {
      if (x % 100 == 42)
        throw std::runtime_error("poison " + std::to_string(x));
      ctx[totals]["sum"] += x;
    },
    {.tables = {totals}});
  auto opts = embedded_options();
  opts.retry_attempts = 2;
  opts.retry_backoff_ms = 1;
  mephisto::worker w{app.resolve(opts), opts};
  ASSERT_FALSE(w.start());
  std::vector<std::string> values;
  int64_t good_sum = 0;
  std::set<std::string> poison;
  for (int64_t x = 0; x < 20'000; ++x) {
    values.push_back(std::to_string(x));
    if (x % 100 == 42)
      poison.insert(values.back());
    else
      good_sum += x;
  }
  testkit::produce(w.bootstrap(), "numbers", values);
  auto dead = testkit::consume(w.bootstrap(), "poison-dead-letter", poison.size(), 60s);
  std::set<std::string> dead_values;
  for (auto& d : dead)
    dead_values.insert(d.value);
  EXPECT_EQ(dead.size(), poison.size());
  EXPECT_EQ(dead_values, poison);
  for (int i = 0; i < 200 && w.stats().events.load() < values.size(); ++i)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(w.stats().events.load(), values.size());
  auto rows = w.table_snapshot("totals");
  ASSERT_TRUE(rows);
  int64_t sum = 0;
  for (auto& [k, v] : *rows)
    sum += std::stoll(v); // one "sum" key per partition
  EXPECT_EQ(sum, good_sum) << "every other event is processed exactly once";
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

TEST(colors_embedded, a_table_shared_by_two_topics_needs_the_range_assignor) {
  // Agents of `left` and `right` share table `joined`: partition p of both topics must be
  // on one instance, which cooperative-sticky does not guarantee.
  auto declare = [](mephisto::app& app) {
    auto left = app.topic<std::string>("left");
    auto right = app.topic<std::string>("right");
    auto joined = app.table<std::string, int64_t>("joined");
    auto count = [=](const std::string& s, mephisto::context& ctx) { ++ctx[joined][s]; };
    app.agent("l", left, count, {.tables = {joined}});
    app.agent("r", right, count, {.tables = {joined}});
  };
  mephisto::app app{"join"};
  declare(app);
  EXPECT_EQ(app.resolve(embedded_options())->table_shared_by_topics(), "joined");
  auto opts = embedded_options();
  opts.partition_assignor = "cooperative-sticky";
  mephisto::worker refused{app.resolve(opts), opts};
  auto err = refused.start();
  ASSERT_TRUE(err);
  EXPECT_NE(mephisto::render(err).find("only range"), std::string::npos) << mephisto::render(err);
  opts.partition_assignor = "fair";
  mephisto::worker unknown{app.resolve(opts), opts};
  EXPECT_TRUE(unknown.start());
  // The colors app shares no table between topics.
  mephisto::app colors_app{"colors"};
  colors::declare(colors_app);
  EXPECT_EQ(colors_app.resolve(embedded_options())->table_shared_by_topics(), "");
}

TEST(colors_embedded, a_failed_partition_restarts_from_its_committed_offset_and_loses_nothing) {
  // The counting agent asks for a restart at three moments (a lost connection, say): its
  // partition stops, its table is restored from the changelog and it reads again from the
  // last committed offset. At-least-once: every running count 1..n appears.
  mephisto::app app{"restarts"};
  auto input = app.topic<std::string>("input");
  auto output = app.topic<std::string, int64_t>("output");
  auto counts = app.table<std::string, int64_t>("counts");
  auto crashes = std::make_shared<std::atomic<int>>(0);
  auto seen = std::make_shared<std::atomic<int>>(0);
  app.agent(
    "count", input,
    [=](const std::string& word, mephisto::context& ctx) {
      auto n = seen->fetch_add(1) + 1;
      if ((n == 20'000 || n == 45'000 || n == 70'000) && crashes->load() < 3) {
        crashes->fetch_add(1);
        throw mephisto::restart_partition("lost a connection");
      }
      auto c = ++ctx[counts][word];
      ctx.send(output, word, c);
    },
    {.tables = {counts}});
  auto opts = embedded_options();

  mephisto::worker w{app.resolve(opts), opts};
  ASSERT_FALSE(w.start());
  auto words = testkit::make_words(100'000, 3);
  std::vector<std::pair<std::string, std::string>> keyed; // a word always on one partition
  for (auto& word : words.words)
    keyed.emplace_back(word, word);
  testkit::produce_keyed(w.bootstrap(), "input", keyed);
  // Every word is counted (colors and the others); find the totals per word.
  std::map<std::string, int64_t> truth;
  for (auto& word : words.words)
    ++truth[word];
  std::map<std::string, std::set<int64_t>> values;
  std::vector<testkit::record> out;
  for (auto deadline = std::chrono::steady_clock::now() + 120s;
       std::chrono::steady_clock::now() < deadline;) {
    out = testkit::consume(w.bootstrap(), "output", SIZE_MAX, 5s);
    values.clear();
    for (auto& r : out)
      values[r.key].insert(std::stoll(r.value));
    bool complete = true;
    for (auto& [word, n] : truth)
      complete = complete && values[word].size() >= static_cast<size_t>(n)
                 && values[word].count(n) > 0;
    if (complete)
      break;
  }
  EXPECT_EQ(crashes->load(), 3);
  EXPECT_EQ(w.stats().restarts.load(), 3);
  size_t lost = 0;
  for (auto& [word, n] : truth)
    for (int64_t i = 1; i <= n; ++i)
      lost += values[word].count(i) == 0;
  EXPECT_EQ(lost, 0u);
  std::printf("[ summary  ] partition restarts: %zu events, 3 restarts, %zu lost, %zu "
              "duplicated outputs\n",
              words.words.size(), lost, out.size() - words.words.size());
  w.stop();
  EXPECT_FALSE(w.wait());
}
