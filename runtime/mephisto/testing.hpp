#pragma once

// mephisto::testing: checkers for a user's crash-recovery tests (target mephisto::testing).
// They take what a test read from Kafka and say whether it is what the processing
// guarantee promises; on a failure, `message()` names the first divergence (key, expected,
// got, partition and offset). They use no test framework:
//
//   auto r = mephisto::testing::check_exactly_once(output, truth);
//   EXPECT_TRUE(r) << r.message();     // GoogleTest, or any other

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace mephisto::testing {

/// A record as a test read it from a topic.
struct topic_record {
  std::string key;
  std::string value;
  int32_t partition = 0;
  int64_t offset = 0;
  bool has_value = true;  ///< false: a null value (a tombstone on a changelog)
  std::map<std::string, std::string> headers;
  int64_t timestamp = -1; ///< ms since the epoch, -1 if unknown
};

/// The first place where a topic differs from what was expected.
struct divergence {
  std::string key;
  std::string expected;
  std::string got;
  int32_t partition = -1;  ///< -1: no record (something is missing)
  int64_t offset = -1;
};

/// What a checker found. Converts to true when the check passed.
struct check_result {
  std::string checker;     ///< "exactly-once", "at-least-once", ...
  bool ok = true;
  size_t keys = 0;         ///< keys (or events) checked
  size_t records = 0;      ///< records read
  size_t missing = 0;      ///< expected but absent
  size_t duplicates = 0;   ///< present more often than expected
  size_t unexpected = 0;   ///< present but never expected (or out of order)
  /// At-least-once: counts beyond the truth (events processed again after a restart and
  /// counted again by a table that kept them). Allowed; reported.
  size_t past_truth = 0;
  std::optional<divergence> first;

  explicit operator bool() const noexcept { return ok; }

  /// One line: the figures, and the first divergence when there is one.
  std::string message() const;
};

/// Exactly-once, for apps that emit a running count per key (values: decimal integers):
/// for every key of `truth`, its records on `output`, in offset order, are exactly
/// 1, 2, ..., truth[key], all on one partition; and no other key appears.
check_result check_exactly_once(const std::vector<topic_record>& output,
                                const std::map<std::string, int64_t>& truth);

/// At-least-once, for the same apps: every running count 1..truth[key] appears at least
/// once (a missing one fails), and no other key appears. Repeats are counted in
/// `duplicates`, counts beyond truth[key] in `past_truth`: both allowed, since a restart
/// processes the events after the last commit again, and a table that kept their changes
/// counts them again.
check_result check_at_least_once(const std::vector<topic_record>& output,
                                 const std::map<std::string, int64_t>& truth);

/// A table's changelog replayed (each partition in offset order: the last value of a key
/// wins, a null value deletes it) equals `table` (encoded keys and values).
check_result check_changelog_matches_table(const std::vector<topic_record>& changelog,
                                           const std::map<std::string, std::string>& table);

/// No event lost: every record of `input` (read from topic `input_topic`) was processed
/// (its (partition, offset) is in `processed`) or is in the dead-letter topic (a record
/// whose `mephisto.topic`, `mephisto.partition` and `mephisto.offset` headers name it).
check_result check_no_event_lost(const std::string& input_topic,
                                 const std::vector<topic_record>& input,
                                 const std::set<std::pair<int32_t, int64_t>>& processed,
                                 const std::vector<topic_record>& dead_letters);

} // namespace mephisto::testing

// The test driver (an app without a broker) is part of the kit.
#include "mephisto/test_driver.hpp"
// Running workers: a real broker, processes, fault injection.
#include "mephisto/test_harness.hpp"
