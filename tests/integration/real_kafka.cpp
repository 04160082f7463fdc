#include "integration/real_kafka.hpp"

#include <cstdlib>
#include <sstream>

#include <unistd.h>

namespace kafka_suite {

std::string kafka_dir() {
  auto env = std::getenv("MEPHISTO_TESTING_KAFKA_DIR");
  return env != nullptr && *env != '\0' ? env : KAFKA_DIR;
}

void real_kafka::SetUp() {
  try {
    broker = mt::kafka_broker::attach(kafka_dir());
  } catch (const std::exception& e) {
    GTEST_FAIL() << "NO REAL KAFKA BROKER: " << e.what() << "; the ctest fixture kafka.start "
                 << "(tests/kafka/kafka.sh) must run first. Use `ctest -LE kafka` to run "
                 << "without Java.";
  }
  bootstrap = broker->bootstrap();
  url = broker->url();
  auto name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  // Unique per run, so that a re-run on the same broker starts with new internal topics.
  id = std::string{"colors-"} + name + "-" + std::to_string(::getpid());
  dir = testkit::temp_dir(name);
  testkit::recreate_topic(bootstrap, "input", 8);
  testkit::recreate_topic(bootstrap, "output", 8);
}

std::unique_ptr<mt::harness> real_kafka::workers(const std::string& bin,
                                                 std::vector<std::string> flags, bool rocksdb,
                                                 uint64_t seed) {
  flags.insert(flags.begin(), {"--id", id});
  auto where = dir + "/workers-" + std::to_string(++harnesses);
  return std::make_unique<mt::harness>(
    testkit::suite_workers(bin, url, where, std::move(flags), rocksdb, seed));
}

workload real_kafka::colors(size_t n, uint32_t seed) {
  auto words = testkit::make_words(n, seed);
  workload w{colors_bin, "input", "output", "colors-count", {}, false, words.colors, seed};
  w.source_partitions = 16; // input and colors_topic
  for (auto& word : words.words)
    w.events.emplace_back(std::string{}, word);
  return w;
}

workload real_kafka::counter(size_t n, size_t keys, uint32_t seed) {
  testkit::recreate_topic(bootstrap, "events", 8);
  testkit::recreate_topic(bootstrap, "counts-out", 8);
  auto events = testkit::make_keyed_events(n, keys, seed);
  return {count_bin, "events", "counts-out", "counts", std::move(events.events), true,
          std::move(events.counts), seed};
}

void real_kafka::feed(const workload& w, size_t from, size_t to) {
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

std::jthread real_kafka::feed_in_background(const workload& w, size_t from, size_t to,
                                            size_t chunk, std::chrono::milliseconds period,
                                            std::atomic<size_t>& fed) {
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

void real_kafka::wait_until_outputs_complete(const workload& w) {
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

/// Says how many runs of lost running counts end in a value the table's changelog holds:
/// the table counted those events, but the outputs of their batch never reached Kafka
/// (a kill after the batch's changelog records were delivered and before its outputs
/// were; the restart then counts on from the changelog).
std::string explain_gaps(const std::vector<testkit::record>& output,
                         const std::map<std::string, int64_t>& truth,
                         const std::vector<testkit::record>& changelog) {
  std::map<std::string, std::set<int64_t>> logged;
  for (auto& r : changelog)
    if (r.has_value)
      logged[r.key].insert(std::stoll(r.value));
  auto gaps = testkit::missing_runs(output, truth);
  size_t ahead = 0;
  for (auto& [key, from, to] : gaps) {
    auto it = logged[key].lower_bound(from);
    ahead += it != logged[key].end() && *it <= to;
  }
  std::ostringstream out;
  out << gaps.size() << " runs missing, " << ahead << " of them in the changelog";
  if (!gaps.empty()) {
    auto& [key, from, to] = gaps.front();
    out << "; first: " << key << " " << from << ".." << to;
  }
  return out.str();
}

std::vector<std::string> guarantee_flags(const std::string& guarantee) {
  if (guarantee == "at_least_once")
    return {};
  return {"--processing_guarantee", guarantee};
}

uint64_t metric_of(const mt::harness& h, int i, const std::string& name) {
  return static_cast<uint64_t>(h.metric(i, name).value_or(0));
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Checks the output and the table once every worker stopped, with the kit's checkers.
/// At-least-once: every running count 1..truth was emitted (repeats and counts past the
/// truth are allowed and counted) and the last output per key is at least the truth (above
/// it when events were counted again after a crash: the table had them, their input
/// offsets were not committed yet). Exactly-once, read committed: per key exactly 1, 2, ..,
/// truth in offset order. Both: the table (its changelog, replayed) ends where the output
/// ends (so under exactly-once at the truth).
outcome real_kafka::expect_final_counts(const workload& w, bool exactly_once) {
  outcome result;
  auto out = testkit::consume(bootstrap, w.output, SIZE_MAX, 5s);
  auto log = changelog(w);
  result.check = exactly_once ? mt::check_exactly_once(out, w.truth)
                              : mt::check_at_least_once(out, w.truth);
  EXPECT_TRUE(result.check) << result.check.message() << "; "
                            << explain_gaps(out, w.truth, log);
  auto last = testkit::last_counts(out);
  size_t short_keys = 0; // last output below the truth
  std::map<std::string, std::string> table; // where the output ends, as the table holds it
  for (auto& [key, n] : w.truth) {
    short_keys += last[key] < n;
    result.keys_past_truth += last[key] > n;
    table[key] = std::to_string(last[key]);
  }
  EXPECT_EQ(short_keys, 0u) << "keys whose last output is below the truth";
  auto table_check = mt::check_changelog_matches_table(log, table);
  EXPECT_TRUE(table_check) << "the table does not end where the output ends: "
                           << table_check.message();
  if (exactly_once) {
    // What the kills left in aborted transactions (read uncommitted sees it): the proof
    // that they hit open transactions.
    auto all = testkit::consume(bootstrap, w.output, SIZE_MAX, 5s,
                                testkit::isolation::read_uncommitted);
    result.aborted = " (" + std::to_string(all.size() - out.size()) + " aborted outputs hidden)";
  }
  return result;
}

} // namespace kafka_suite
