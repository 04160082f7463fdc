// The colors app and count_app on a real Apache Kafka 4.x broker: exact counts, restarts,
// rebalances, partition failures, a deleted store and a missing topic (the crash tests:
// kafka_crash_test.cpp; the fixture: real_kafka.hpp).

#include <fstream>
#include <regex>

#include "integration/real_kafka.hpp"

using namespace kafka_suite;

namespace {

/// How often `needle` appears in `text`.
size_t occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
    ++n;
  return n;
}

} // namespace

TEST_F(real_kafka, colors_counts_200k_words_exactly_and_creates_its_topics) {
  auto h = workers(colors_bin);
  int w = h->start();
  ASSERT_TRUE(h->wait_ready(w, 60s)) << h->timeline() << h->log(w);
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
  // `colors topics` shows what the broker has beside what the app declares.
  mt::process topics{{colors_bin, "topics", "--broker", url, "--id", id}, dir + "/topics.log"};
  EXPECT_EQ(topics.wait(60s), 0) << topics.log();
  auto listing = topics.log();
  EXPECT_NE(listing.find("input  partitions as found (broker: 8)"), std::string::npos)
    << listing;
  EXPECT_NE(listing.find(id + "-colors-count-changelog  partitions 8 (broker: 8)"),
            std::string::npos)
    << listing;
  EXPECT_EQ(h->stop(w), 0) << h->timeline() << h->log(w);
}

TEST_F(real_kafka, restart_mid_stream_continues_from_the_changelog) {
  testkit::restart_mid_stream(bootstrap, *workers(colors_bin), 200'000, 22, 10'000);
}

TEST_F(real_kafka, two_workers_split_the_partitions_exactly) {
  testkit::two_workers_split(bootstrap, *workers(colors_bin), 200'000, 23);
}

TEST_F(real_kafka, exactly_once_two_workers_rebalance_and_split_exactly) {
  // The second worker's arrival revokes the first one's partitions: the open transaction
  // commits before they move. Each worker has a RocksDB store of its own.
  testkit::two_workers_split(
    bootstrap, *workers(colors_bin, {"--processing_guarantee", "exactly_once"}, true), 200'000,
    30);
}

TEST_F(real_kafka, exactly_once_restart_mid_stream_is_exact) {
  testkit::restart_mid_stream(
    bootstrap, *workers(colors_bin, {"--processing_guarantee", "exactly_once"}), 200'000, 31,
    10'000);
}

// Partitions fail (the user function throws restart_partition) three times while one
// exactly-once worker runs: each failure aborts the open transaction and rewinds every
// partition to its committed offsets, with its tables restored. Outputs stay exact.
TEST_F(real_kafka, exactly_once_partition_failures_abort_and_rewind) {
  auto w = counter(100'000, 1000, 29);
  auto h = workers(w, {"--processing_guarantee", "exactly_once"}, true);
  ::setenv("COUNT_APP_FAIL_AT", "20000,45000,70000", 1);
  int i = h->start();
  ::unsetenv("COUNT_APP_FAIL_AT");
  ASSERT_TRUE(h->wait_ready(i, 60s)) << h->timeline() << h->log(i);
  for (size_t e = 0; e < w.events.size(); e += 5000)
    feed(w, e, std::min(e + 5000, w.events.size()));
  h->note("input fed");
  auto out = testkit::consume(bootstrap, w.output, w.events.size(), 120s);
  auto more = testkit::consume(bootstrap, w.output, SIZE_MAX, 3s); // nothing beyond
  // Three failures, each the agent's own report: no counter counts an agent stopped by
  // restart_partition (a failure that comes while a rewind is already dropping the
  // pipelines shares that abort, so the manager's restarts and aborts can be fewer).
  EXPECT_TRUE(testkit::eventually(
    [&] { return occurrences(h->log(i), "agent count on events [") >= 3; }, 10s))
    << h->timeline() << h->log(i);
  // The manager restarted the failed partitions, the consumer aborted and rewound.
  auto restarts = metric_of(*h, i, "mephisto_restarts_total");
  auto aborts = metric_of(*h, i, "mephisto_aborts_total");
  EXPECT_GE(restarts, 1u) << h->timeline() << h->log(i);
  EXPECT_GE(aborts, 1u) << h->timeline() << h->log(i);
  EXPECT_EQ(h->stop(i), 0) << h->timeline() << h->log(i);
  auto check = mt::check_exactly_once(more, w.truth);
  EXPECT_TRUE(check) << check.message() << "\n" << h->timeline();
  auto all = testkit::consume(bootstrap, w.output, SIZE_MAX, 5s,
                              testkit::isolation::read_uncommitted);
  std::printf("[ summary  ] exactly-once partition failures: %zu events, 3 failures (%llu "
              "partition restarts, %llu aborted transactions), %zu lost, %zu duplicated "
              "outputs (%zu aborted outputs hidden)\n",
              w.events.size(), static_cast<unsigned long long>(restarts),
              static_cast<unsigned long long>(aborts), check.missing, check.duplicates,
              all.size() - more.size());
}

// One worker three times over on its RocksDB store, each time on a part of the input and
// stopped cleanly (at-least-once is then exact): the first builds the store, the second
// reopens it, the third finds it deleted and rebuilds it from the changelog.
TEST_F(real_kafka, rocksdb_store_deleted_while_down_is_rebuilt) {
  auto w = counter(100'000, 1000, 26);
  auto h = workers(w, {}, true);
  const size_t bounds[] = {0, 50'000, 75'000, 100'000};
  struct run_result {
    std::string log;
    uint64_t restored = 0; ///< changelog records restored into the table
  };
  auto run = [&](int part) { // the caller stops on a failure
    int i = part == 0 ? h->start() : (h->restart(0), 0);
    if (!h->wait_ready(i, 60s)) {
      ADD_FAILURE() << "worker " << part << " did not start\n" << h->timeline() << h->log(i);
      return run_result{h->log(i)};
    }
    feed(w, bounds[part], bounds[part + 1]);
    // Processed: every event of this part and before has its output.
    auto out = testkit::consume(bootstrap, w.output, bounds[part + 1], 60s);
    EXPECT_GE(out.size(), bounds[part + 1]) << h->timeline();
    auto restored = metric_of(*h, i, "mephisto_restored_records_total");
    EXPECT_EQ(h->stop(i), 0) << h->timeline() << h->log(i);
    return run_result{h->log(i), restored};
  };
  // How each table partition's store opened: said only in the log (no counter tells a
  // missing store from a reopened one).
  const size_t partitions = 8; // of `events`, so of the table
  auto first = run(0);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(occurrences(first.log, "local store missing"), partitions) << first.log;
  auto reopened = run(1);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(occurrences(reopened.log, "local store at offset"), partitions) << reopened.log;
  EXPECT_EQ(occurrences(reopened.log, "local store missing"), 0u) << reopened.log;
  EXPECT_TRUE(std::regex_search(reopened.log, std::regex{"local store at offset [1-9]"}))
    << reopened.log;
  h->delete_store(0);
  auto rebuilt = run(2);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(occurrences(rebuilt.log, "local store missing"), partitions) << rebuilt.log;
  EXPECT_EQ(occurrences(rebuilt.log, "local store at offset"), 0u) << rebuilt.log;
  // The reopened store read at most the changelog's tail; the rebuilt one all of it (at
  // least one record per key).
  EXPECT_GE(rebuilt.restored, w.truth.size()) << h->timeline();
  EXPECT_LT(reopened.restored, rebuilt.restored) << h->timeline();
  auto out = testkit::consume(bootstrap, w.output, w.events.size(), 60s);
  auto check = mt::check_exactly_once(out, w.truth);
  EXPECT_TRUE(check) << check.message() << "; " << explain_gaps(out, w.truth, changelog(w))
                     << "\n" << h->timeline();
  std::map<std::string, std::string> truth_table;
  for (auto& [key, n] : w.truth)
    truth_table[key] = std::to_string(n);
  auto table = mt::check_changelog_matches_table(changelog(w), truth_table);
  EXPECT_TRUE(table) << "the changelog does not end at the truth: " << table.message();
  std::printf("[ summary  ] rocksdb rebuild: %zu events, 0 kills, %zu lost, %zu duplicated "
              "outputs; %llu changelog records restored into the reopened store, %llu into "
              "the rebuilt one\n", w.events.size(), check.missing, check.duplicates,
              static_cast<unsigned long long>(reopened.restored),
              static_cast<unsigned long long>(rebuilt.restored));
}

TEST(real_kafka_errors, a_missing_source_topic_is_a_clear_error) {
  std::string bootstrap;
  std::ifstream{kafka_dir() + "/bootstrap"} >> bootstrap;
  ASSERT_FALSE(bootstrap.empty()) << "NO REAL KAFKA BROKER (see the kafka.start fixture)";
  // A second app on the same broker whose source topic nobody created.
  auto dir = testkit::temp_dir("missing-source");
  mt::process w{{ORPHAN_BIN, "worker", "--broker", "kafka://" + bootstrap,
                 "--startup_timeout_ms", "10000"},
                dir + "/w.log"};
  EXPECT_EQ(w.wait(60s), 1) << w.log();
  EXPECT_NE(w.log().find("topic_missing"), std::string::npos) << w.log();
  EXPECT_NE(w.log().find("never creates source or other"), std::string::npos) << w.log();
}
