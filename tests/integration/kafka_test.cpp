// The colors app and count_app on a real Apache Kafka 4.x broker: exact counts, restarts,
// rebalances, partition failures, a deleted store and a missing topic (the crash tests:
// kafka_crash_test.cpp; the fixture: real_kafka.hpp).

#include "integration/real_kafka.hpp"

using namespace kafka_suite;

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
  // `colors topics` shows what the broker has beside what the app declares.
  std::string listing;
  EXPECT_EQ(testkit::run_to_exit({colors_bin, "topics", "--broker", url, "--id", id},
                                 dir + "/topics.log", 60s, listing),
            0)
    << listing;
  EXPECT_NE(listing.find("input  partitions as found (broker: 8)"), std::string::npos)
    << listing;
  EXPECT_NE(listing.find(id + "-colors-count-changelog  partitions 8 (broker: 8)"),
            std::string::npos)
    << listing;
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
