#pragma once

// The real-broker suite's fixture and helpers (kafka_test.cpp, kafka_crash_test.cpp,
// kafka_group_test.cpp, kafka_outage_test.cpp): the colors app and count_app on a real
// Apache Kafka 4.x broker (KRaft), the one `$MEPHISTO_TESTING_KAFKA_DIR` names or else the
// ctest fixture `kafka`'s (tests/kafka/kafka.sh). Workers are separate processes, as users
// run them, started by the test kit's harness (mephisto/testing.hpp).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/scenarios.hpp"
#include "support/shares.hpp"
#include "support/testkit.hpp"

using namespace std::chrono_literals;
namespace mt = mephisto::testing;

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

/// What the output holds once every worker stopped, judged by `expect_final_counts`.
struct outcome {
  mt::check_result check;     ///< the kit's exactly-once or at-least-once checker
  size_t keys_past_truth = 0; ///< at-least-once: keys whose table counted events twice
  std::string aborted;        ///< exactly-once: " (N aborted outputs hidden)"
  size_t lost() const { return check.missing; }
  /// Outputs beyond one per running count 1..truth: repeats and counts past the truth.
  size_t duplicated() const { return check.duplicates + check.past_truth; }
};

/// Every test gets fresh `input` and `output` topics and an app id of its own, so its
/// internal topics and consumer group are new too.
struct real_kafka : ::testing::Test {
  void SetUp() override;

  /// A harness of `bin` workers with the suite's flags, `--id` and `flags`; each harness
  /// of a test has a directory of its own under `dir`.
  std::unique_ptr<mt::harness> workers(const std::string& bin,
                                       std::vector<std::string> flags = {},
                                       bool rocksdb = false, uint64_t seed = 1);
  /// A harness of `w`'s app (its fault schedules drawn from `w.seed`).
  std::unique_ptr<mt::harness> workers(const workload& w, std::vector<std::string> flags = {},
                                       bool rocksdb = false) {
    return workers(w.bin, std::move(flags), rocksdb, w.seed);
  }

  /// The colors app on `n` words.
  workload colors(size_t n, uint32_t seed);
  /// count_app on `n` events over `keys` keys, with fresh topics `events` and `counts-out`.
  workload counter(size_t n, size_t keys, uint32_t seed);

  /// Produces the events [from, to) of `w`.
  void feed(const workload& w, size_t from, size_t to);

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
                                  std::chrono::milliseconds period, std::atomic<size_t>& fed);

  /// Waits until the output holds a record per event and stops growing (read committed:
  /// only committed transactions count).
  void wait_until_outputs_complete(const workload& w);

  outcome expect_final_counts(const workload& w, bool exactly_once);

  /// Kills instance `victim` of `h` with SIGKILL `kills` times, each at the harness's
  /// seeded moment 200 ms to 2.2 s after it is ready, restarting it before every kill but
  /// the first; it is left dead. A fatal failure when it does not get ready in 90 s.
  void kill_9_repeatedly(mt::harness& h, int victim, int kills);

  void survive_kill_9s(const std::string& scenario, const workload& w,
                       const std::string& guarantee, bool rocksdb);

  void three_instances_survive_a_kill_9(const std::string& scenario, const workload& w,
                                        const std::string& guarantee, bool rocksdb);

  std::unique_ptr<mt::kafka_broker> broker;
  std::string bootstrap;
  std::string url;
  std::string id;
  std::string dir;
  int harnesses = 0;
};

/// Where the suite's broker keeps its files: `$MEPHISTO_TESTING_KAFKA_DIR`, else the ctest
/// fixture's directory.
std::string kafka_dir();

/// Says how many runs of lost running counts end in a value the table's changelog holds:
/// the table counted those events, but the outputs of their batch never reached Kafka.
std::string explain_gaps(const std::vector<testkit::record>& output,
                         const std::map<std::string, int64_t>& truth,
                         const std::vector<testkit::record>& changelog);

/// The flags of a worker with `guarantee`; the default (at_least_once) is not passed.
std::vector<std::string> guarantee_flags(const std::string& guarantee);

/// A counter or gauge of instance `i` as a whole number (0 when it does not answer).
uint64_t metric_of(const mt::harness& h, int i, const std::string& name);

double seconds_since(std::chrono::steady_clock::time_point start);

} // namespace kafka_suite
