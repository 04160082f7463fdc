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
#include <optional>
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
  /// Partitions the workers' consumer group shares: of the input and of the internal
  /// topics the app reads.
  size_t source_partitions = 8;
};

/// What the output holds once every worker stopped, checked by `expect_final_counts`.
struct outcome {
  testkit::count_report report;
  size_t keys_past_truth = 0; ///< at-least-once: keys whose table counted events twice
  std::string aborted;        ///< exactly-once: " (N aborted outputs hidden)"
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
    w.source_partitions = 16; // input and colors_topic
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

  /// Feeds the events [from, to) of `w` from a thread, a `chunk` of events every `period`
  /// (or slower, if producing one takes longer), so that they keep flowing at a known pace
  /// while the test kills, adds and stops workers. `fed` says up to which event they are
  /// produced. Being a jthread, it is stopped and joined on every way out, a failed ASSERT
  /// included.
  std::jthread feed_in_background(const workload& w, size_t from, size_t to, size_t chunk,
                                  std::chrono::milliseconds period, std::atomic<size_t>& fed) {
    return std::jthread{[this, &w, from, to, chunk, period, &fed](std::stop_token stop) {
      auto next = std::chrono::steady_clock::now();
      for (size_t i = from; i < to && !stop.stop_requested(); i += chunk) {
        auto end = std::min(i + chunk, to);
        feed(w, i, end);
        fed = end;
        next = std::max(next + period, std::chrono::steady_clock::now());
        std::this_thread::sleep_until(next);
      }
    }};
  }

  /// Waits until the output holds a record per event and stops growing (read committed:
  /// only committed transactions count).
  void wait_until_outputs_complete(const workload& w) {
    size_t expected = 0;
    for (auto& [key, n] : w.truth)
      expected += static_cast<size_t>(n);
    auto deadline = std::chrono::steady_clock::now() + 120s;
    for (size_t before = 0; std::chrono::steady_clock::now() < deadline;) {
      auto size = testkit::consume(bootstrap, w.output, SIZE_MAX, 5s).size();
      if (size >= expected && size == before)
        return;
      before = size;
    }
  }

  outcome expect_final_counts(const workload& w, bool exactly_once);

  void survive_kill_9s(const std::string& scenario, const workload& w,
                       const std::string& guarantee, const std::string& store);

  void three_instances_survive_a_kill_9(const std::string& scenario, const workload& w,
                                        const std::string& guarantee, bool rocksdb);

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

/// The flags of a worker with `guarantee` and `store`; the defaults (at_least_once,
/// memory://) are not passed.
std::vector<std::string> guarantee_flags(const std::string& guarantee, const std::string& store) {
  std::vector<std::string> flags;
  if (guarantee != "at_least_once")
    flags.insert(flags.end(), {"--processing_guarantee", guarantee});
  if (store != "memory://")
    flags.insert(flags.end(), {"--store", store});
  return flags;
}

/// The partitions a worker holds now according to its log ("topic[p]"): every
/// `assigned:` line adds its partitions, every `revoked:` line takes its own away (the
/// cooperative assignor moves only some; the eager one revokes all first). Only complete
/// lines count.
std::set<std::string> current_share(const std::string& log) {
  std::set<std::string> share;
  std::istringstream lines{log};
  for (std::string line; std::getline(lines, line) && !lines.eof();) {
    bool add = line.find("assigned: ") != std::string::npos;
    auto at = line.find(add ? "assigned: " : "revoked: ");
    if (at == std::string::npos)
      continue;
    std::istringstream parts{line.substr(at + (add ? 10 : 9))};
    for (std::string part; parts >> part;) {
      if (add)
        share.insert(part);
      else
        share.erase(part);
    }
  }
  return share;
}

std::string logs_of(const std::vector<child*>& workers) {
  std::string out;
  for (size_t i = 0; i < workers.size(); ++i)
    out += "----- worker " + std::to_string(i) + " -----\n" + workers[i]->log();
  return out;
}

/// Waits until `workers` hold all `partitions` partitions between them, each a non-empty
/// share and none a partition another one holds. Returns their shares; nothing if that
/// does not happen within `timeout` or a worker exits.
std::optional<std::vector<std::set<std::string>>>
wait_for_split(const std::vector<child*>& workers, size_t partitions,
               std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::vector<std::set<std::string>> shares;
    std::set<std::string> all;
    size_t held = 0;
    bool idle = false;
    for (auto* w : workers) {
      if (!w->running())
        return std::nullopt;
      shares.push_back(current_share(w->log()));
      idle = idle || shares.back().empty();
      held += shares.back().size();
      all.insert(shares.back().begin(), shares.back().end());
    }
    if (!idle && held == partitions && all.size() == partitions)
      return shares;
    std::this_thread::sleep_for(50ms);
  }
  return std::nullopt;
}

/// The partition numbers of `topic` in a share.
std::set<int32_t> partitions_of(const std::set<std::string>& share, const std::string& topic) {
  std::set<int32_t> out;
  for (auto& part : share)
    if (part.rfind(topic + "[", 0) == 0)
      out.insert(std::stoi(part.substr(topic.size() + 1)));
  return out;
}

size_t records_on(const std::vector<testkit::record>& records,
                  const std::set<int32_t>& partitions) {
  return static_cast<size_t>(std::count_if(records.begin(), records.end(), [&](auto& r) {
    return partitions.count(r.partition) > 0;
  }));
}

/// The events a worker processed, from its `stopped: N events` line (0 without one).
uint64_t processed_events(const std::string& log) {
  static const std::regex line{"stopped: ([0-9]+) events"};
  std::smatch m;
  return std::regex_search(log, m, line) ? std::stoull(m[1]) : 0;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
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

/// Checks the output and the table once every worker stopped. At-least-once: every
/// running count 1..truth was emitted (duplicates are allowed and counted) and the last
/// output per key is at least the truth (above it when events were counted again after a
/// crash: the table had them, their input offsets were not committed yet). Exactly-once,
/// read committed: per key exactly 1, 2, .., truth in offset order. Both: the table (its
/// changelog, replayed) ends where the output ends (so under exactly-once at the truth).
outcome real_kafka::expect_final_counts(const workload& w, bool exactly_once) {
  outcome result;
  auto out = testkit::consume(bootstrap, w.output, SIZE_MAX, 5s);
  auto& report = result.report = testkit::check_running_counts(out, w.truth);
  auto log = changelog(w);
  auto table = testkit::replay(log);
  EXPECT_EQ(report.lost, 0u) << "running counts lost; " << explain_gaps(report, log);
  size_t short_keys = 0;   // last output below the truth
  size_t table_drift = 0;  // changelog's last value differs from the last output
  std::string example;
  for (auto& [key, n] : w.truth) {
    auto last_out = report.last[key];
    short_keys += last_out < n;
    result.keys_past_truth += last_out > n;
    if (table[key] != std::to_string(last_out) && table_drift++ == 0)
      example = key + ": changelog " + table[key] + ", output " + std::to_string(last_out);
  }
  EXPECT_EQ(short_keys, 0u) << "keys whose last output is below the truth";
  EXPECT_EQ(table_drift, 0u) << "the table does not end where the output ends, " << example;
  if (exactly_once) {
    EXPECT_EQ(report.duplicated, 0u) << "exactly-once emitted duplicates";
    EXPECT_EQ(report.inexact_keys, 0u) << report.first_inexact;
    // What the kills left in aborted transactions (read uncommitted sees it): the proof
    // that they hit open transactions.
    auto all = testkit::consume(bootstrap, w.output, SIZE_MAX, 5s,
                                testkit::isolation::read_uncommitted);
    result.aborted = " (" + std::to_string(all.size() - out.size()) + " aborted outputs hidden)";
  }
  return result;
}

/// Feeds the events of `w` in chunks while workers (static membership, so each restart
/// takes the partitions back at once instead of waiting out the dead member's session
/// timeout) are SIGKILLed 10 times at random moments, then lets a last worker finish and
/// stop cleanly; `expect_final_counts` judges the result.
void real_kafka::survive_kill_9s(const std::string& scenario, const workload& w,
                                 const std::string& guarantee, const std::string& store) {
  auto flags = guarantee_flags(guarantee, store);
  flags.insert(flags.end(), {"--instance_id", "crash-worker"});
  std::atomic<size_t> fed{0};
  auto feeder = feed_in_background(w, 0, w.events.size(), 2000, 200ms, fed);
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
  EXPECT_EQ(fed.load(), w.events.size());
  // A last worker finishes the input and stops cleanly.
  auto last = start(w, "last", flags);
  ASSERT_TRUE(last->wait_for_log("assigned: ", 90s)) << last->log();
  wait_until_outputs_complete(w);
  last->signal(SIGTERM);
  EXPECT_EQ(last->wait(60s), 0) << last->log();
  auto result = expect_final_counts(w, guarantee == "exactly_once");
  std::printf("[ summary  ] %s: %zu events, %d kills, %zu lost, %zu duplicated outputs%s\n",
              scenario.c_str(), w.events.size(), kills, result.report.lost,
              result.report.duplicated, result.aborted.c_str());
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
  // Three failures (each agent's own report; a failure that comes while a rewind is
  // already dropping the pipelines shares that abort, so the manager reports fewer).
  EXPECT_TRUE(proc->wait_for_log("agent count on events [", 10s, 3)) << proc->log();
  EXPECT_TRUE(proc->wait_for_log("a partition failed", 10s)) << proc->log();
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

// Several instances in one consumer group, as a scaled-out deployment runs them. They have
// no --instance_id: dynamic membership is what instances get without configuring one each,
// and static membership would change nothing the kill test measures (a SIGKILLed member
// sends no LeaveGroup either way, so its partitions move only when its session times out,
// after 10 s) while it would stall the scale-in (a static member that stops cleanly keeps
// its partitions until its session times out). Under exactly-once it also covers the
// harder end of a dead instance's open transaction: with a transactional id nobody
// reuses, only the transaction timeout ends it (10 s, and up to 10 s more until the
// broker's next check aborts it); until then read_committed readers of its partitions
// see nothing past it, while the survivors already restore and process them.

/// Three instances of `w` (keyed: an event's input, table and output partitions are the
/// same) split the partitions. While events flow, one is SIGKILLed: its partitions move to
/// the two survivors, who go on processing them. Then it restarts with its store and
/// takes a share again while the last fifth of the events flows, so it has work. At the
/// end every instance stops cleanly and `expect_final_counts` judges the output.
void real_kafka::three_instances_survive_a_kill_9(const std::string& scenario,
                                                  const workload& w,
                                                  const std::string& guarantee, bool rocksdb) {
  ASSERT_TRUE(w.keyed) << "the killed instance's output partitions are its input partitions";
  auto instance = [&](const std::string& log_name, const std::string& store_name) {
    return start(w, log_name,
                 guarantee_flags(guarantee, rocksdb ? "rocksdb://" + dir + "/store-" + store_name
                                                    : "memory://"));
  };
  std::vector<std::unique_ptr<child>> procs;
  for (auto name : {"a", "b", "c"})
    procs.push_back(instance(name, name));
  auto all = [&] { return std::vector<child*>{procs[0].get(), procs[1].get(), procs[2].get()}; };
  auto split = wait_for_split(all(), w.source_partitions, 90s);
  ASSERT_TRUE(split) << "the three instances never split the partitions\n" << logs_of(all());

  std::atomic<size_t> fed{0};
  // 4000 events/s, flowing on well after the killed instance's session timed out (~10 s
  // after the kill).
  const size_t before_restart = w.events.size() * 4 / 5;
  auto feeder = feed_in_background(w, 0, before_restart, 1000, 250ms, fed);
  // Mid-stream: a fifth of the events in.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (fed < w.events.size() / 5 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  const size_t victim = 1;
  auto moved = partitions_of((*split)[victim], w.input);
  // Exactly-once: while the victim's open transaction holds outputs, which it then never
  // commits (between two transactions a kill would test only the move).
  if (guarantee == "exactly_once")
    for (deadline = std::chrono::steady_clock::now() + 10s;
         testkit::records_in_open_transactions(bootstrap, w.output, moved) == 0
         && std::chrono::steady_clock::now() < deadline;)
      std::this_thread::sleep_for(5ms);
  auto killed_at = std::chrono::steady_clock::now();
  procs[victim]->signal(SIGKILL);
  ASSERT_EQ(procs[victim]->wait(10s), 128 + SIGKILL);
  const size_t fed_at_kill = fed;
  EXPECT_LT(fed_at_kill, w.events.size()) << "the kill did not land mid-stream";
  // All the killed instance wrote is there now; whatever its partitions gain from here on,
  // the survivors wrote.
  auto before = records_on(testkit::consume(bootstrap, w.output, SIZE_MAX, 3s), moved);

  std::vector<child*> survivors{procs[0].get(), procs[2].get()};
  auto taken_over = wait_for_split(survivors, w.source_partitions, 60s);
  ASSERT_TRUE(taken_over) << "the survivors never took the killed instance's partitions\n"
                          << logs_of(survivors);
  auto move_s = seconds_since(killed_at);
  const size_t fed_at_move = fed;
  EXPECT_LT(fed_at_move, before_restart) << "the partitions moved after the events stopped";
  // Exactly-once: visible only once the dead instance's open transaction timed out.
  size_t after = before;
  for (deadline = std::chrono::steady_clock::now() + 60s;
       after <= before && std::chrono::steady_clock::now() < deadline;)
    after = records_on(testkit::consume(bootstrap, w.output, SIZE_MAX, 2s), moved);
  EXPECT_GT(after, before) << "the survivors did not process the moved partitions\n"
                           << logs_of(survivors);
  auto go_on_s = seconds_since(killed_at);
  const size_t fed_when_readable = fed;

  feeder.join();
  auto restarted_at = std::chrono::steady_clock::now();
  procs[victim] = instance("b-restarted", "b"); // its own store again
  feeder = feed_in_background(w, before_restart, w.events.size(), 1000, 250ms, fed);
  auto again = wait_for_split(all(), w.source_partitions, 60s);
  EXPECT_TRUE(again) << "the restarted instance got no share\n" << logs_of(all());
  auto back_s = seconds_since(restarted_at);

  feeder.join();
  EXPECT_EQ(fed.load(), w.events.size());
  wait_until_outputs_complete(w);
  for (auto* p : all())
    p->signal(SIGTERM);
  for (auto* p : all())
    EXPECT_EQ(p->wait(60s), 0) << p->log();
  auto restarted_events = processed_events(procs[victim]->log());
  EXPECT_GT(restarted_events, 0u) << "the restarted instance did no work\n"
                                  << procs[victim]->log();
  auto result = expect_final_counts(w, guarantee == "exactly_once");
  std::printf("[ summary  ] %s: %zu events, 1 kill (at event %zu), %zu lost, %zu duplicated "
              "outputs%s, %zu keys counted past the truth; the killed instance's %zu "
              "partitions moved %.1f s after the kill -9 (at event %zu), new outputs on them "
              "readable after %.1f s (at event %zu); the restarted instance got a share "
              "%.1f s after its start and processed %llu events\n",
              scenario.c_str(), w.events.size(), fed_at_kill, result.report.lost,
              result.report.duplicated, result.aborted.c_str(), result.keys_past_truth,
              moved.size(), move_s, fed_at_move, go_on_s, fed_when_readable, back_s,
              static_cast<unsigned long long>(restarted_events));
}

TEST_F(real_kafka, exactly_once_three_instances_survive_a_kill_9_and_a_restart) {
  three_instances_survive_a_kill_9("three instances exactly-once rocksdb",
                                   counter(100'000, 1000, 40), "exactly_once", true);
}

TEST_F(real_kafka, at_least_once_three_instances_survive_a_kill_9_and_a_restart) {
  three_instances_survive_a_kill_9("three instances at-least-once memory",
                                   counter(100'000, 1000, 41), "at_least_once", false);
}

// One exactly-once instance, two more join while events flow, then those two stop
// cleanly (SIGTERM) and the first one finishes alone: every rebalance commits the open
// transaction before its partitions move, so the running counts stay exact.
TEST_F(real_kafka, exactly_once_scale_out_1_3_1_while_events_flow_is_exact) {
  auto w = colors(150'000, 42);
  auto flags = guarantee_flags("exactly_once", "memory://");
  auto first = start(w, "w1", flags);
  ASSERT_TRUE(wait_for_split({first.get()}, w.source_partitions, 60s)) << first->log();
  std::atomic<size_t> fed{0};
  // 8000 events/s: the rebalances find work in flight.
  auto feeder = feed_in_background(w, 0, w.events.size(), 2000, 250ms, fed);
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (fed < w.events.size() / 8 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);

  auto scale_out_at = std::chrono::steady_clock::now();
  const size_t fed_at_scale_out = fed;
  auto second = start(w, "w2", flags);
  auto third = start(w, "w3", flags);
  std::vector<child*> three{first.get(), second.get(), third.get()};
  ASSERT_TRUE(wait_for_split(three, w.source_partitions, 60s))
    << "the new instances got no share\n" << logs_of(three);
  auto scale_out_s = seconds_since(scale_out_at);
  std::this_thread::sleep_for(2s); // three instances at work

  auto scale_in_at = std::chrono::steady_clock::now();
  const size_t fed_at_scale_in = fed;
  EXPECT_LT(fed_at_scale_in, w.events.size()) << "the scale-in did not happen mid-stream";
  second->signal(SIGTERM);
  third->signal(SIGTERM);
  EXPECT_EQ(second->wait(60s), 0) << second->log();
  EXPECT_EQ(third->wait(60s), 0) << third->log();
  ASSERT_TRUE(wait_for_split({first.get()}, w.source_partitions, 60s))
    << "the first instance did not take all partitions back\n" << first->log();
  auto scale_in_s = seconds_since(scale_in_at);
  // Both did part of the work, else this was no scale-out.
  EXPECT_GT(processed_events(second->log()), 0u) << second->log();
  EXPECT_GT(processed_events(third->log()), 0u) << third->log();

  feeder.join();
  EXPECT_EQ(fed.load(), w.events.size());
  wait_until_outputs_complete(w);
  first->signal(SIGTERM);
  EXPECT_EQ(first->wait(60s), 0) << first->log();
  auto result = expect_final_counts(w, true);
  std::printf("[ summary  ] exactly-once scale-out 1-3-1: %zu events, 0 kills, %zu lost, %zu "
              "duplicated outputs%s; 3 instances %.1f s after the scale-out (at event %zu), "
              "1 instance holding everything %.1f s after the SIGTERMs (at event %zu); the "
              "two stopped ones processed %llu and %llu events\n",
              w.events.size(), result.report.lost, result.report.duplicated,
              result.aborted.c_str(), scale_out_s, fed_at_scale_out, scale_in_s,
              fed_at_scale_in, static_cast<unsigned long long>(processed_events(second->log())),
              static_cast<unsigned long long>(processed_events(third->log())));
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
