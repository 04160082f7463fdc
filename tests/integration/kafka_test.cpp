// The colors app on a real Apache Kafka 4.x broker (KRaft), started by the ctest fixture
// `kafka` (tests/kafka/kafka.sh). Workers are separate processes, as users run them.

#include <csignal>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <regex>
#include <string>
#include <thread>

#include <unistd.h>

#include <gtest/gtest.h>

#include "support/scenarios.hpp"
#include "support/testkit.hpp"

using namespace std::chrono_literals;
using testkit::child;

namespace {

const std::string colors_bin = COLORS_BIN;

/// Every test gets fresh `input` and `output` topics and an app id of its own, so its
/// internal topics and consumer group are new too.
struct real_kafka : testing::Test {
  void SetUp() override {
    std::ifstream in{std::string{KAFKA_DIR} + "/bootstrap"};
    std::getline(in, bootstrap);
    ASSERT_FALSE(bootstrap.empty())
      << "NO REAL KAFKA BROKER: " << KAFKA_DIR << "/bootstrap is missing; the ctest fixture "
      << "kafka.start (tests/kafka/kafka.sh) must run first. Use `ctest -LE kafka` to run "
      << "without Java.";
    url = "kafka://" + bootstrap;
    auto name = testing::UnitTest::GetInstance()->current_test_info()->name();
    // Unique per run, so that a re-run on the same broker starts with new internal topics.
    id = std::string{"colors-"} + name + "-" + std::to_string(::getpid());
    dir = testkit::temp_dir(name);
    testkit::recreate_topic(bootstrap, "input", 8);
    testkit::recreate_topic(bootstrap, "output", 8);
  }

  std::unique_ptr<child> worker(const std::string& name) {
    return testkit::start_worker(colors_bin, url, dir, name, {"--id", id});
  }

  std::string bootstrap;
  std::string url;
  std::string id;
  std::string dir;
};

} // namespace

TEST_F(real_kafka, colors_counts_200k_words_exactly_and_creates_its_topics) {
  auto w = worker("w");
  ASSERT_TRUE(w->wait_for_log("assigned: ", 60s)) << w->log();
  auto words = testkit::make_words(200'000, 21);
  testkit::produce(bootstrap, "input", words.words);
  auto out = testkit::consume(bootstrap, "output", words.color_words, 120s);
  testkit::expect_exact_running_counts(out, words.colors);
  // Internal topics: declared partition counts; the changelog is compacted.
  EXPECT_EQ(testkit::partition_count(bootstrap, id + "-colors_topic"), 8);
  EXPECT_EQ(testkit::partition_count(bootstrap, id + "-colors-count-changelog"), 8);
  auto config = testkit::topic_config(bootstrap, id + "-colors-count-changelog");
  EXPECT_EQ(config["cleanup.policy"], "compact");
  EXPECT_EQ(testkit::topic_config(bootstrap, id + "-colors_topic")["cleanup.policy"], "delete");
  EXPECT_EQ(testkit::partition_count(bootstrap, id + "-dead-letter"), 8);
  w->signal(SIGTERM);
  EXPECT_EQ(w->wait(60s), 0) << w->log();
}

TEST_F(real_kafka, restart_mid_stream_continues_from_the_changelog) {
  testkit::restart_mid_stream(
    bootstrap, [this](const std::string& name) { return worker(name); }, 200'000, 22, 10'000);
}

TEST_F(real_kafka, two_workers_split_the_partitions_exactly) {
  testkit::two_workers_split(
    bootstrap, [this](const std::string& name) { return worker(name); }, 200'000, 23);
}

TEST_F(real_kafka, at_least_once_survives_ten_kill_9s) {
  auto words = testkit::make_words(200'000, 24);
  std::atomic<bool> fed{false};
  std::thread feeder{[&] {
    for (size_t i = 0; i < words.words.size(); i += 2000) {
      std::vector<std::string> chunk(words.words.begin() + i, words.words.begin() + i + 2000);
      testkit::produce(bootstrap, "input", chunk);
      std::this_thread::sleep_for(150ms);
    }
    fed = true;
  }};
  std::mt19937 gen{24};
  // Static membership: every incarnation takes over the partitions of the one killed before
  // it at once, instead of waiting out the dead member's session timeout.
  auto incarnation = [&](const std::string& name) {
    return testkit::start_worker(colors_bin, url, dir, name,
                                 {"--id", id, "--instance_id", "crash-worker"});
  };
  int kills = 0;
  for (; kills < 10; ++kills) {
    auto w = incarnation("w" + std::to_string(kills));
    ASSERT_TRUE(w->wait_for_log("assigned: ", 90s)) << w->log();
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + gen() % 2000));
    w->signal(SIGKILL);
    EXPECT_EQ(w->wait(10s), 128 + SIGKILL);
  }
  feeder.join();
  EXPECT_TRUE(fed.load());
  // A last worker finishes the input and stops cleanly.
  auto last = incarnation("last");
  ASSERT_TRUE(last->wait_for_log("assigned: ", 90s)) << last->log();
  size_t before = 0;
  std::vector<testkit::record> out;
  for (;;) { // until the output stops growing
    out = testkit::consume(bootstrap, "output", SIZE_MAX, 5s);
    if (out.size() >= words.color_words && out.size() == before)
      break;
    before = out.size();
  }
  last->signal(SIGTERM);
  EXPECT_EQ(last->wait(60s), 0) << last->log();
  out = testkit::consume(bootstrap, "output", SIZE_MAX, 5s);
  // Nothing lost: every running count 1..truth was emitted; duplicates are allowed.
  std::map<std::string, std::set<int64_t>> values;
  std::map<std::string, std::pair<int64_t, int64_t>> last_value; // (offset, value)
  for (auto& r : out) {
    auto v = std::stoll(r.value);
    values[r.key].insert(v);
    auto& lv = last_value[r.key];
    if (r.offset >= lv.first)
      lv = {r.offset, v};
  }
  size_t duplicated = out.size() - words.color_words;
  for (auto& [color, n] : words.colors) {
    auto& vs = values[color];
    int64_t missing = 0;
    for (int64_t i = 1; i <= n; ++i)
      missing += vs.count(i) == 0;
    EXPECT_EQ(missing, 0) << color << ": running counts lost";
    EXPECT_GE(last_value[color].second, n) << color;
  }
  // The table (its changelog, replayed) ends where the output ends.
  auto changelog = testkit::consume(bootstrap, id + "-colors-count-changelog", SIZE_MAX, 5s);
  std::map<std::string, std::pair<int64_t, std::string>> table;
  for (auto& r : changelog) {
    auto& e = table[r.key];
    if (r.partition >= 0 && r.offset >= e.first)
      e = {r.offset, r.value};
  }
  for (auto& [color, n] : words.colors)
    EXPECT_EQ(std::stoll(table[color].second), last_value[color].second) << color;
  std::printf("[ summary  ] at-least-once: %zu events, %d kills, 0 lost, %zu duplicated outputs\n",
              words.words.size(), kills, duplicated);
}

TEST(real_kafka_errors, a_missing_source_topic_is_a_clear_error) {
  std::string bootstrap;
  std::ifstream{std::string{KAFKA_DIR} + "/bootstrap"} >> bootstrap;
  ASSERT_FALSE(bootstrap.empty()) << "NO REAL KAFKA BROKER (see the kafka.start fixture)";
  // A second app on the same broker whose source topic nobody created.
  auto dir = testkit::temp_dir("missing-source");
  child w{{ORPHAN_BIN, "worker", "--broker", "kafka://" + bootstrap, "--startup_timeout_ms",
           "10000"},
          dir + "/w.log"};
  EXPECT_EQ(w.wait(60s), 1) << w.log();
  EXPECT_NE(w.log().find("topic_missing"), std::string::npos) << w.log();
  EXPECT_NE(w.log().find("never creates source or other"), std::string::npos) << w.log();
}
