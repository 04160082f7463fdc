#pragma once

// The real-broker suite's fixture and helpers (kafka_test.cpp, kafka_crash_test.cpp): the
// colors app and count_app on a real Apache Kafka 4.x broker (KRaft), started by the ctest
// fixture `kafka` (tests/kafka/kafka.sh). Workers are separate processes, as users run them.

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

namespace kafka_suite {

inline const std::string colors_bin = COLORS_BIN;
inline const std::string count_bin = COUNT_BIN;

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
struct real_kafka : ::testing::Test {
  void SetUp() override {
    std::ifstream in{std::string{KAFKA_DIR} + "/bootstrap"};
    std::getline(in, bootstrap);
    ASSERT_FALSE(bootstrap.empty())
      << "NO REAL KAFKA BROKER: " << KAFKA_DIR << "/bootstrap is missing; the ctest fixture "
      << "kafka.start (tests/kafka/kafka.sh) must run first. Use `ctest -LE kafka` to run "
      << "without Java.";
    url = "kafka://" + bootstrap;
    auto name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
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
/// the table counted those events, but the outputs of their batch never reached Kafka.
std::string explain_gaps(const testkit::count_report& report,
                         const std::vector<testkit::record>& changelog);

/// Sums the `recovered: N changelog records` lines of a worker log.
uint64_t recovered_records(const std::string& log);

/// The flags of a worker with `guarantee` and `store`; the defaults (at_least_once,
/// memory://) are not passed.
std::vector<std::string> guarantee_flags(const std::string& guarantee, const std::string& store);

/// The partitions a worker holds now according to its log ("topic[p]").
std::set<std::string> current_share(const std::string& log);

/// The logs of `workers`, each under a heading.
std::string logs_of(const std::vector<child*>& workers);

/// Waits until `workers` hold all `partitions` partitions between them, each a non-empty
/// share and none a partition another one holds. Returns their shares; nothing if that
/// does not happen within `timeout` or a worker exits.
std::optional<std::vector<std::set<std::string>>>
wait_for_split(const std::vector<child*>& workers, size_t partitions,
               std::chrono::milliseconds timeout);

/// The partition numbers of `topic` in a share.
std::set<int32_t> partitions_of(const std::set<std::string>& share, const std::string& topic);

/// How many of `records` are on `partitions`.
size_t records_on(const std::vector<testkit::record>& records,
                  const std::set<int32_t>& partitions);

/// The events a worker processed, from its `stopped: N events` line (0 without one).
uint64_t processed_events(const std::string& log);

double seconds_since(std::chrono::steady_clock::time_point start);

} // namespace kafka_suite
