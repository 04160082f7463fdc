// The colors app and count_app on a real Apache Kafka 4.x broker (KRaft), started by the
// ctest fixture `kafka` (tests/kafka/kafka.sh). Workers are separate processes, as users
// run them.

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "support/scenarios.hpp"
#include "support/testkit.hpp"

using namespace std::chrono_literals;
using testkit::child;

namespace {

const std::string colors_bin = COLORS_BIN;
const std::string count_bin = COUNT_BIN;

/// An app that emits a running count per key, the events it is fed and what it must
/// count: the colors app on words, or count_app on keyed events.
struct workload {
  std::string bin;
  std::string input;  ///< topic the events go to
  std::string output; ///< topic of the running counts
  std::string table;  ///< declared name of the table that counts
  std::vector<std::pair<std::string, std::string>> events; ///< (key, value)
  bool keyed = false; ///< false: the keys are empty and the events are sent without one
  std::map<std::string, int64_t> truth; ///< key -> events it counts
  uint32_t seed = 0;
};

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

  /// The colors app on `n` words.
  workload colors(size_t n, uint32_t seed) {
    auto words = testkit::make_words(n, seed);
    workload w{colors_bin, "input", "output", "colors-count", {}, false, words.colors, seed};
    for (auto& word : words.words)
      w.events.emplace_back(std::string{}, word);
    return w;
  }

  /// count_app on `n` events over `keys` keys, with fresh topics `events` and `counts-out`.
  workload counter(size_t n, size_t keys, uint32_t seed) {
    testkit::recreate_topic(bootstrap, "events", 8);
    testkit::recreate_topic(bootstrap, "counts-out", 8);
    auto events = testkit::make_keyed_events(n, keys, seed);
    return {count_bin, "events", "counts-out", "counts", std::move(events.events), true,
            std::move(events.counts), seed};
  }

  std::unique_ptr<child> start(const workload& w, const std::string& name,
                               std::vector<std::string> flags) {
    flags.insert(flags.begin(), {"--id", id});
    return testkit::start_worker(w.bin, url, dir, name, std::move(flags));
  }

  /// Produces the events [from, to) of `w`.
  void feed(const workload& w, size_t from, size_t to) {
    std::vector<std::pair<std::string, std::string>> chunk(w.events.begin() + from,
                                                           w.events.begin() + to);
    if (w.keyed) {
      testkit::produce_keyed(bootstrap, w.input, chunk);
    } else {
      std::vector<std::string> values;
      for (auto& e : chunk)
        values.push_back(e.second);
      testkit::produce(bootstrap, w.input, values);
    }
  }

  /// The changelog of `w`'s table (read committed).
  std::vector<testkit::record> changelog(const workload& w) {
    return testkit::consume(bootstrap, id + "-" + w.table + "-changelog", SIZE_MAX, 5s);
  }

  void survive_kill_9s(const std::string& scenario, const workload& w,
                       const std::string& guarantee, const std::string& store);

  std::string bootstrap;
  std::string url;
  std::string id;
  std::string dir;
};

/// Says how many runs of lost running counts end in a value the table's changelog holds:
/// the table counted those events, but the outputs of their batch never reached Kafka
/// (a kill after the batch's changelog records were delivered and before its outputs
/// were; the restart then counts on from the changelog).
std::string explain_gaps(const testkit::count_report& report,
                         const std::vector<testkit::record>& changelog) {
  std::map<std::string, std::set<int64_t>> logged;
  for (auto& r : changelog)
    if (r.has_value)
      logged[r.key].insert(std::stoll(r.value));
  size_t ahead = 0;
  for (auto& [key, from, to] : report.gaps) {
    auto it = logged[key].lower_bound(from);
    ahead += it != logged[key].end() && *it <= to;
  }
  std::ostringstream out;
  out << report.gaps.size() << " runs missing, " << ahead << " of them in the changelog";
  if (!report.gaps.empty()) {
    auto& [key, from, to] = report.gaps.front();
    out << "; first: " << key << " " << from << ".." << to;
  }
  return out.str();
}

/// Sums the `recovered: N changelog records` lines of a worker log.
uint64_t recovered_records(const std::string& log) {
  static const std::regex line{"recovered: ([0-9]+) changelog records"};
  uint64_t sum = 0;
  for (std::sregex_iterator it{log.begin(), log.end(), line}, end; it != end; ++it)
    sum += std::stoull((*it)[1]);
  return sum;
}

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

TEST_F(real_kafka, exactly_once_two_workers_rebalance_and_split_exactly) {
  // The second worker's arrival revokes the first one's partitions: the open transaction
  // commits before they move.
  testkit::two_workers_split(
    bootstrap,
    [this](const std::string& name) {
      return testkit::start_worker(colors_bin, url, dir, name,
                                   {"--id", id, "--processing_guarantee", "exactly_once",
                                    "--store", "rocksdb://" + dir + "/store-" + name});
    },
    200'000, 30);
}

TEST_F(real_kafka, exactly_once_restart_mid_stream_is_exact) {
  testkit::restart_mid_stream(
    bootstrap,
    [this](const std::string& name) {
      return testkit::start_worker(colors_bin, url, dir, name,
                                   {"--id", id, "--processing_guarantee", "exactly_once"});
    },
    200'000, 31, 10'000);
}

/// Feeds the events of `w` in chunks while workers (static membership, so each restart
/// takes the partitions back at once instead of waiting out the dead member's session
/// timeout) are SIGKILLed 10 times at random moments, then lets a last worker finish and
/// stop cleanly. At-least-once: every running count 1..truth was emitted (duplicates are
/// allowed and counted). Exactly-once, read committed: per key exactly 1, 2, .., truth in
/// offset order. Both: the table (its changelog, replayed) ends where the output ends (so
/// under exactly-once at the truth).
/// The defaults (at_least_once, memory://) are not passed as flags.
void real_kafka::survive_kill_9s(const std::string& scenario, const workload& w,
                                 const std::string& guarantee, const std::string& store) {
  const bool exactly_once = guarantee == "exactly_once";
  std::vector<std::string> flags{"--instance_id", "crash-worker"};
  if (guarantee != "at_least_once")
    flags.insert(flags.end(), {"--processing_guarantee", guarantee});
  if (store != "memory://")
    flags.insert(flags.end(), {"--store", store});
  std::atomic<bool> fed{false};
  // A jthread: on every way out, a failed ASSERT included, it is stopped and joined.
  std::jthread feeder{[&](std::stop_token stop) {
    for (size_t i = 0; i < w.events.size() && !stop.stop_requested(); i += 2000) {
      feed(w, i, std::min(i + 2000, w.events.size()));
      std::this_thread::sleep_for(150ms);
    }
    fed = true;
  }};
  std::mt19937 gen{w.seed};
  int kills = 0;
  for (; kills < 10; ++kills) {
    // (std::string{..}.append: "w" + std::to_string trips a GCC 12 -Wrestrict false positive)
    auto victim = start(w, std::string{"w"}.append(std::to_string(kills)), flags);
    ASSERT_TRUE(victim->wait_for_log("assigned: ", 90s)) << victim->log();
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + gen() % 2000));
    victim->signal(SIGKILL);
    EXPECT_EQ(victim->wait(10s), 128 + SIGKILL);
  }
  feeder.join();
  EXPECT_TRUE(fed.load());
  // A last worker finishes the input and stops cleanly.
  auto last = start(w, "last", flags);
  ASSERT_TRUE(last->wait_for_log("assigned: ", 90s)) << last->log();
  size_t expected = 0;
  for (auto& [key, n] : w.truth)
    expected += static_cast<size_t>(n);
  // Until the output stops growing (read committed: only committed transactions count).
  auto deadline = std::chrono::steady_clock::now() + 120s;
  for (size_t before = 0; std::chrono::steady_clock::now() < deadline;) {
    auto size = testkit::consume(bootstrap, w.output, SIZE_MAX, 5s).size();
    if (size >= expected && size == before)
      break;
    before = size;
  }
  last->signal(SIGTERM);
  EXPECT_EQ(last->wait(60s), 0) << last->log();
  auto out = testkit::consume(bootstrap, w.output, SIZE_MAX, 5s);
  auto report = testkit::check_running_counts(out, w.truth);
  auto log = changelog(w);
  auto table = testkit::replay(log);
  EXPECT_EQ(report.lost, 0u) << "running counts lost; " << explain_gaps(report, log);
  size_t short_keys = 0;   // last output below the truth
  size_t table_drift = 0;  // changelog's last value differs from the last output
  std::string example;
  for (auto& [key, n] : w.truth) {
    auto last_out = report.last[key];
    short_keys += last_out < n;
    if (table[key] != std::to_string(last_out) && table_drift++ == 0)
      example = key + ": changelog " + table[key] + ", output " + std::to_string(last_out);
  }
  EXPECT_EQ(short_keys, 0u) << "keys whose last output is below the truth";
  EXPECT_EQ(table_drift, 0u) << "the table does not end where the output ends, " << example;
  std::string aborted;
  if (exactly_once) {
    EXPECT_EQ(report.duplicated, 0u) << "exactly-once emitted duplicates";
    EXPECT_EQ(report.inexact_keys, 0u) << report.first_inexact;
    // What the kills left in aborted transactions (read uncommitted sees it): the proof
    // that they hit open transactions.
    auto all = testkit::consume(bootstrap, w.output, SIZE_MAX, 5s,
                                testkit::isolation::read_uncommitted);
    aborted = " (" + std::to_string(all.size() - out.size()) + " aborted outputs hidden)";
  }
  std::printf("[ summary  ] %s: %zu events, %d kills, %zu lost, %zu duplicated outputs%s\n",
              scenario.c_str(), w.events.size(), kills, report.lost, report.duplicated,
              aborted.c_str());
}

TEST_F(real_kafka, at_least_once_survives_ten_kill_9s) {
  survive_kill_9s("at-least-once", colors(200'000, 24), "at_least_once", "memory://");
}

TEST_F(real_kafka, exactly_once_memory_survives_ten_kill_9s) {
  survive_kill_9s("exactly-once memory", colors(200'000, 25), "exactly_once", "memory://");
}

TEST_F(real_kafka, exactly_once_rocksdb_survives_ten_kill_9s) {
  survive_kill_9s("exactly-once rocksdb", counter(200'000, 1000, 27), "exactly_once",
                  "rocksdb://" + dir + "/store");
}

TEST_F(real_kafka, at_least_once_rocksdb_survives_ten_kill_9s) {
  survive_kill_9s("at-least-once rocksdb", counter(200'000, 1000, 28), "at_least_once",
                  "rocksdb://" + dir + "/store");
}

// Partitions fail (the user function throws restart_partition) three times while one
// exactly-once worker runs: each failure aborts the open transaction and rewinds every
// partition to its committed offsets, with its tables restored. Outputs stay exact.
TEST_F(real_kafka, exactly_once_partition_failures_abort_and_rewind) {
  auto w = counter(100'000, 1000, 29);
  ::setenv("COUNT_APP_FAIL_AT", "20000,45000,70000", 1);
  auto proc = start(w, "w", {"--processing_guarantee", "exactly_once", "--store",
                             "rocksdb://" + dir + "/store"});
  ::unsetenv("COUNT_APP_FAIL_AT");
  ASSERT_TRUE(proc->wait_for_log("assigned: ", 60s)) << proc->log();
  for (size_t i = 0; i < w.events.size(); i += 5000)
    feed(w, i, std::min(i + 5000, w.events.size()));
  auto out = testkit::consume(bootstrap, w.output, w.events.size(), 120s);
  auto more = testkit::consume(bootstrap, w.output, SIZE_MAX, 3s); // nothing beyond
  // Three failures; two close together share one abort and rewind.
  EXPECT_TRUE(proc->wait_for_log("a partition failed", 10s, 3)) << proc->log();
  EXPECT_TRUE(proc->wait_for_log("rewound to the committed offsets", 10s)) << proc->log();
  proc->signal(SIGTERM);
  EXPECT_EQ(proc->wait(60s), 0) << proc->log();
  auto report = testkit::check_running_counts(more, w.truth);
  EXPECT_EQ(report.lost, 0u);
  EXPECT_EQ(report.duplicated, 0u);
  EXPECT_EQ(report.inexact_keys, 0u) << report.first_inexact;
  auto all = testkit::consume(bootstrap, w.output, SIZE_MAX, 5s,
                              testkit::isolation::read_uncommitted);
  std::printf("[ summary  ] exactly-once partition failures: %zu events, 3 failures, %zu lost, "
              "%zu duplicated outputs (%zu aborted outputs hidden)\n",
              w.events.size(), report.lost, report.duplicated, all.size() - more.size());
}

// Three workers one after the other on one RocksDB store, each on a part of the input and
// stopped cleanly (at-least-once is then exact): the first builds the store, the second
// reopens it, the third finds it deleted and rebuilds it from the changelog.
TEST_F(real_kafka, rocksdb_store_deleted_while_down_is_rebuilt) {
  auto w = counter(100'000, 1000, 26);
  auto store = dir + "/store";
  const size_t bounds[] = {0, 50'000, 75'000, 100'000};
  auto run = [&](int part) { // returns the worker's log; the caller stops on a failure
    auto proc = start(w, std::string{"w"}.append(std::to_string(part)),
                      {"--store", "rocksdb://" + store});
    if (!proc->wait_for_log("assigned: ", 60s)) {
      ADD_FAILURE() << "worker " << part << " did not start\n" << proc->log();
      return proc->log();
    }
    feed(w, bounds[part], bounds[part + 1]);
    // Processed: every event of this part and before has its output.
    auto out = testkit::consume(bootstrap, w.output, bounds[part + 1], 60s);
    EXPECT_GE(out.size(), bounds[part + 1]);
    proc->signal(SIGTERM);
    EXPECT_EQ(proc->wait(60s), 0) << proc->log();
    return proc->log();
  };
  const size_t partitions = 8; // of `events`, so of the table
  auto count = [](const std::string& log, const std::string& needle) {
    size_t n = 0;
    for (auto pos = log.find(needle); pos != std::string::npos; pos = log.find(needle, pos + 1))
      ++n;
    return n;
  };
  auto first = run(0);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(count(first, "local store missing"), partitions) << first;
  auto reopened = run(1);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(count(reopened, "local store at offset"), partitions) << reopened;
  EXPECT_EQ(count(reopened, "local store missing"), 0u) << reopened;
  EXPECT_TRUE(std::regex_search(reopened, std::regex{"local store at offset [1-9]"}))
    << reopened;
  ASSERT_TRUE(std::filesystem::exists(store)) << "no store where --store points";
  std::filesystem::remove_all(store);
  auto rebuilt = run(2);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(count(rebuilt, "local store missing"), partitions) << rebuilt;
  EXPECT_EQ(count(rebuilt, "local store at offset"), 0u) << rebuilt;
  // The reopened store read at most the changelog's tail; the rebuilt one all of it (at
  // least one record per key).
  EXPECT_GE(recovered_records(rebuilt), w.truth.size()) << rebuilt;
  EXPECT_LT(recovered_records(reopened), recovered_records(rebuilt)) << reopened;
  auto out = testkit::consume(bootstrap, w.output, w.events.size(), 60s);
  auto report = testkit::check_running_counts(out, w.truth);
  EXPECT_EQ(report.lost, 0u) << explain_gaps(report, changelog(w));
  EXPECT_EQ(report.duplicated, 0u);
  EXPECT_EQ(report.inexact_keys, 0u) << report.first_inexact;
  auto table = testkit::replay(changelog(w));
  size_t wrong = 0;
  for (auto& [key, n] : w.truth)
    wrong += table[key] != std::to_string(n);
  EXPECT_EQ(wrong, 0u) << "table keys whose changelog does not end at the truth";
  std::printf("[ summary  ] rocksdb rebuild: %zu events, 0 kills, %zu lost, %zu duplicated "
              "outputs\n", w.events.size(), report.lost, report.duplicated);
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
