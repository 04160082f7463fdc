// `colors lag` and `colors reset` on a real Apache Kafka 4.x broker: the lag read from the
// group's committed offsets and the watermarks, a reset refused while a worker runs (or when
// the store directory holds something strange), a dry run that changes nothing, and a reset
// after which a rerun counts from scratch (the fixture: real_kafka.hpp).

#include <filesystem>
#include <fstream>

#include <boost/json.hpp>

#include "integration/real_kafka.hpp"

using namespace kafka_suite;

namespace {

/// A run of `colors <args...>`: its exit code and output.
struct cli_run {
  int code = -1;
  std::string out;
};

/// What `colors lag --json` says, parsed.
struct lag_view {
  std::map<std::pair<std::string, int32_t>, std::optional<int64_t>> committed;
  std::map<std::pair<std::string, int32_t>, int64_t> end;
  std::map<std::string, int64_t> lag; ///< per topic
  std::set<std::string> missing;
  int64_t total = -1;
  int64_t members = -1;
};

} // namespace

struct real_kafka_group : real_kafka {
  cli_run colors_cli(std::vector<std::string> args) {
    static int runs = 0;
    args.insert(args.begin(), colors_bin);
    for (auto flag : {"--broker", url.c_str(), "--id", id.c_str()})
      args.emplace_back(flag);
    mt::process p{args, dir + "/cli-" + std::to_string(++runs) + ".log"};
    cli_run r;
    r.code = p.wait(60s);
    r.out = p.log();
    return r;
  }

  /// `colors lag --json`, parsed; a failed test without it.
  lag_view lag() {
    auto r = colors_cli({"lag", "--json"});
    lag_view v;
    EXPECT_EQ(r.code, 0) << r.out;
    std::istringstream lines{r.out};
    for (std::string line; std::getline(lines, line);) {
      if (line.empty() || line[0] != '{')
        continue;
      auto doc = boost::json::parse(line).as_object();
      for (auto& p : doc["partitions"].as_array()) {
        auto& o = p.as_object();
        std::pair key{std::string{o.at("topic").as_string()},
                      static_cast<int32_t>(o.at("partition").as_int64())};
        v.committed[key] = o.at("committed").is_null()
                             ? std::nullopt
                             : std::optional<int64_t>{o.at("committed").as_int64()};
        v.end[key] = o.at("end").as_int64();
        v.lag[key.first] += o.at("lag").as_int64();
      }
      for (auto& t : doc["missing_topics"].as_array())
        v.missing.insert(std::string{t.as_string()});
      v.total = doc["total_lag"].as_int64();
      v.members = doc["members"].as_int64();
      return v;
    }
    ADD_FAILURE() << "no JSON in the output of lag:\n" << r.out;
    return v;
  }

  /// Runs a worker over everything in `input` until `outputs` running counts are out, then
  /// stops it cleanly (its offsets committed).
  void run_to_completion(const std::string& name, size_t outputs,
                         std::vector<std::string> flags = {}) {
    auto h = workers(colors_bin, std::move(flags));
    int w = h->start();
    h->note(name);
    ASSERT_TRUE(h->wait_ready(w, 60s)) << h->timeline() << h->log(w);
    auto out = testkit::consume(bootstrap, "output", outputs, 60s);
    EXPECT_GE(out.size(), outputs) << h->timeline();
    ASSERT_EQ(h->stop(w), 0) << h->timeline() << h->log(w);
  }

  std::string internal_topic() { return id + "-colors_topic"; }
  std::string changelog_topic() { return id + "-colors-count-changelog"; }

  /// The table's counts as its changelog holds them.
  std::map<std::string, std::string> table_counts() {
    return testkit::replay(testkit::consume(bootstrap, changelog_topic(), SIZE_MAX, 5s));
  }
};

TEST_F(real_kafka_group, lag_counts_what_the_group_has_not_read_then_reset_to_a_time) {
  auto first = testkit::make_words(3000, 41);
  testkit::produce(bootstrap, "input", first.words);
  // No worker yet: no group, nothing committed; the lag is everything produced.
  auto before = lag();
  EXPECT_EQ(before.members, 0);
  EXPECT_EQ(before.lag["input"], 3000);
  EXPECT_EQ(before.total, 3000);
  EXPECT_EQ(before.end.size(), 8u); // input's partitions; colors_topic is not there yet
  EXPECT_TRUE(before.missing.count(internal_topic()) == 1);
  for (auto& [key, committed] : before.committed)
    EXPECT_FALSE(committed.has_value()) << key.first << " [" << key.second << "]";
  // A worker reads it all and stops: every source partition is read to its end.
  run_to_completion("w", first.color_words);
  ASSERT_FALSE(HasFailure());
  auto after = lag();
  EXPECT_EQ(after.total, 0);
  EXPECT_EQ(after.end.size(), 16u); // input and colors_topic
  for (auto& [key, end] : after.end) // (a partition that never had a record has no commit)
    EXPECT_EQ(after.committed[key].value_or(0), end) << key.first << " [" << key.second << "]";
  // Records produced after a time; a reset to that time leaves exactly those to read again.
  std::this_thread::sleep_for(50ms);
  auto cut = std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  std::this_thread::sleep_for(50ms);
  auto second = testkit::make_words(700, 42);
  testkit::produce(bootstrap, "input", second.words);
  EXPECT_EQ(lag().lag["input"], 700);
  auto reset = colors_cli({"reset", "--to-timestamp", std::to_string(cut - 10)});
  ASSERT_EQ(reset.code, 0) << reset.out;
  auto moved = lag();
  EXPECT_EQ(moved.lag["input"], 700);
  EXPECT_TRUE(moved.missing.count(internal_topic()) == 1) << "the internal topic was deleted";
}

TEST_F(real_kafka_group, reset_is_refused_while_a_worker_runs_and_a_dry_run_changes_nothing) {
  auto words = testkit::make_words(2000, 43);
  testkit::produce(bootstrap, "input", words.words);
  auto store = dir + "/store";
  auto h = workers(colors_bin, {"--store", "rocksdb://" + store});
  int w = h->start();
  ASSERT_TRUE(h->wait_ready(w, 60s)) << h->timeline() << h->log(w);
  testkit::consume(bootstrap, "output", words.color_words, 60s);
  auto refused = colors_cli({"reset", "--store", "rocksdb://" + store});
  EXPECT_EQ(refused.code, 1) << refused.out;
  EXPECT_NE(refused.out.find("1 live member"), std::string::npos) << refused.out;
  ASSERT_EQ(h->stop(w), 0) << h->timeline() << h->log(w);
  // Nothing was deleted by the refused reset.
  EXPECT_EQ(testkit::partition_count(bootstrap, internal_topic()), 8);
  EXPECT_EQ(testkit::partition_count(bootstrap, changelog_topic()), 8);
  EXPECT_TRUE(std::filesystem::exists(store + "/" + id));
  auto stopped = lag();
  EXPECT_EQ(stopped.total, 0);
  // A dry run with everything asked: the same topics, offsets and store afterwards.
  auto dry = colors_cli({"reset", "--dry-run", "--include-dead-letter", "--store",
                         "rocksdb://" + store});
  EXPECT_EQ(dry.code, 0) << dry.out;
  EXPECT_EQ(testkit::partition_count(bootstrap, internal_topic()), 8);
  EXPECT_EQ(testkit::partition_count(bootstrap, changelog_topic()), 8);
  EXPECT_EQ(testkit::partition_count(bootstrap, id + "-dead-letter"), 8);
  EXPECT_TRUE(std::filesystem::exists(store + "/" + id));
  auto unchanged = lag();
  EXPECT_EQ(unchanged.committed, stopped.committed);
  EXPECT_EQ(unchanged.total, 0);
  // A store directory holding something that is no table partition: refused before anything
  // changed (reset deletes nothing it does not recognise as the app's store).
  std::ofstream{store + "/" + id + "/notes.txt"} << "not a table\n";
  auto strange = colors_cli({"reset", "--store", "rocksdb://" + store});
  EXPECT_EQ(strange.code, 1) << strange.out;
  EXPECT_EQ(testkit::partition_count(bootstrap, internal_topic()), 8);
  EXPECT_TRUE(std::filesystem::exists(store + "/" + id + "/notes.txt"));
  EXPECT_EQ(lag().committed, stopped.committed);
}

TEST_F(real_kafka_group, after_a_reset_a_rerun_counts_from_scratch) {
  auto words = testkit::make_words(20'000, 44);
  testkit::produce(bootstrap, "input", words.words);
  auto store = dir + "/store";
  std::vector<std::string> flags{"--store", "rocksdb://" + store};
  run_to_completion("first", words.color_words, flags);
  ASSERT_FALSE(HasFailure());
  auto counts = table_counts();
  ASSERT_EQ(counts.size(), words.colors.size());
  // Another app's store beside this one's is not touched.
  std::filesystem::create_directories(store + "/other-app/t/0");
  auto reset = colors_cli({"reset", "--store", "rocksdb://" + store});
  ASSERT_EQ(reset.code, 0) << reset.out;
  EXPECT_EQ(testkit::partition_count(bootstrap, internal_topic()), 0);
  EXPECT_EQ(testkit::partition_count(bootstrap, changelog_topic()), 0);
  EXPECT_EQ(testkit::partition_count(bootstrap, id + "-dead-letter"), 8) << "kept by default";
  EXPECT_EQ(testkit::partition_count(bootstrap, "input"), 8) << "a source topic is kept";
  EXPECT_FALSE(std::filesystem::exists(store + "/" + id));
  EXPECT_TRUE(std::filesystem::exists(store + "/other-app/t/0"));
  auto reset_lag = lag();
  EXPECT_EQ(reset_lag.lag["input"], static_cast<int64_t>(words.words.size()));
  for (auto& [key, committed] : reset_lag.committed)
    EXPECT_EQ(committed, std::optional<int64_t>{0}) << key.first << " [" << key.second << "]";
  // The rerun, on a fresh output: running counts 1..n again, not n+1..2n.
  testkit::recreate_topic(bootstrap, "output", 8);
  run_to_completion("rerun", words.color_words, flags);
  ASSERT_FALSE(HasFailure());
  auto out = testkit::consume(bootstrap, "output", words.color_words, 30s);
  testkit::expect_exact_running_counts(out, words.colors);
  auto rerun_counts = table_counts();
  EXPECT_EQ(rerun_counts, counts);
  for (auto& [color, n] : words.colors)
    EXPECT_EQ(rerun_counts[color], std::to_string(n)) << color;
}
