// The colors binary as users run it: separate processes on one embedded broker
// (`colors broker`), clean restarts, two workers in one group, and clear errors for bad
// configuration and unreachable brokers.

#include <csignal>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "support/scenarios.hpp"
#include "support/testkit.hpp"

using namespace std::chrono_literals;
using testkit::child;

namespace {

const std::string colors_bin = COLORS_BIN;

struct cluster : testing::Test {
  void SetUp() override {
    dir = testkit::temp_dir(testing::UnitTest::GetInstance()->current_test_info()->name());
    broker = std::make_unique<child>(
      std::vector<std::string>{colors_bin, "broker", "--bootstrap_file", dir + "/bs.txt"},
      dir + "/broker.log");
    url = testkit::wait_for_line(dir + "/bs.txt", 20s);
    ASSERT_FALSE(url.empty()) << broker->log();
    bootstrap = testkit::strip_scheme(url);
  }

  std::unique_ptr<child> worker(const std::string& name) {
    return testkit::start_worker(colors_bin, url, dir, name);
  }

  std::string dir;
  std::string url;
  std::string bootstrap;
  std::unique_ptr<child> broker;
};

} // namespace

TEST_F(cluster, restart_mid_stream_continues_counting_from_the_changelog) {
  testkit::restart_mid_stream(
    bootstrap, [this](const std::string& name) { return worker(name); }, 100'000, 7, 5000);
}

TEST_F(cluster, two_workers_split_the_partitions_and_the_result_is_exact) {
  testkit::two_workers_split(
    bootstrap, [this](const std::string& name) { return worker(name); }, 100'000, 9);
}

TEST_F(cluster, two_workers_with_rocksdb_tables_split_the_partitions_exactly) {
  // Each worker has its own store directory; rebalances close and reopen the stores.
  testkit::two_workers_split(
    bootstrap,
    [this](const std::string& name) {
      return testkit::start_worker(colors_bin, url, dir, name,
                                   {"--store", "rocksdb://" + dir + "/store-" + name});
    },
    100'000, 10);
}

TEST_F(cluster, kcat_and_send_reach_the_embedded_broker) {
  auto w = worker("w");
  ASSERT_TRUE(w->wait_for_log("assigned: ", 30s)) << w->log();
  for (auto word : {"red", "dog", "red"}) {
    child send{{colors_bin, "send", "input", word, "--broker", url}, dir + "/send.log"};
    ASSERT_EQ(send.wait(30s), 0) << send.log();
  }
  auto out = testkit::consume(bootstrap, "output", 2, 30s);
  testkit::expect_exact_running_counts(out, {{"red", 2}});
  w->signal(SIGTERM);
  EXPECT_EQ(w->wait(30s), 0) << w->log();
}

TEST(cli, an_unreachable_broker_is_a_clear_error_in_bounded_time) {
  auto dir = testkit::temp_dir("unreachable");
  auto start = std::chrono::steady_clock::now();
  child w{{colors_bin, "worker", "--broker", "kafka://127.0.0.1:1", "--startup_timeout_ms",
           "2000"},
          dir + "/w.log"};
  EXPECT_EQ(w.wait(30s), 1) << w.log();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  EXPECT_NE(w.log().find("broker_unreachable"), std::string::npos) << w.log();
}

TEST(cli, a_bad_broker_url_is_a_clear_error) {
  auto dir = testkit::temp_dir("badurl");
  child w{{colors_bin, "worker", "--broker", "localhost:9092"}, dir + "/w.log"};
  EXPECT_EQ(w.wait(30s), 1) << w.log();
  EXPECT_NE(w.log().find("bad_broker_url"), std::string::npos) << w.log();
}

TEST(cli, exactly_once_on_the_embedded_broker_is_refused) {
  auto dir = testkit::temp_dir("eos-embedded");
  child w{{colors_bin, "worker", "--broker", "embedded", "--processing_guarantee",
           "exactly_once"},
          dir + "/w.log"};
  EXPECT_EQ(w.wait(30s), 1) << w.log();
  EXPECT_NE(w.log().find("exactly_once needs a real Kafka broker"), std::string::npos)
    << w.log();
}

TEST(cli, bad_store_and_guarantee_values_are_errors) {
  auto dir = testkit::temp_dir("bad-store");
  child a{{colors_bin, "worker", "--broker", "embedded", "--store", "rocksdb://"},
          dir + "/a.log"};
  EXPECT_EQ(a.wait(30s), 1) << a.log();
  EXPECT_NE(a.log().find("rocksdb://<directory>"), std::string::npos) << a.log();
  child b{{colors_bin, "worker", "--broker", "embedded", "--processing_guarantee", "twice"},
          dir + "/b.log"};
  EXPECT_EQ(b.wait(30s), 1) << b.log();
  EXPECT_NE(b.log().find("use at_least_once or exactly_once"), std::string::npos) << b.log();
}

namespace {

int run_with_config(const std::string& name, const std::string& config, std::string& log,
                    std::vector<std::string> extra = {}) {
  auto dir = testkit::temp_dir(name);
  std::ofstream{dir + "/app.toml"} << config;
  std::vector<std::string> args{colors_bin, "--config", dir + "/app.toml"};
  args.insert(args.end(), extra.begin(), extra.end());
  child c{args, dir + "/out.log"};
  auto rc = c.wait(30s);
  log = c.log();
  return rc;
}

} // namespace

TEST(cli, unknown_config_keys_are_errors) {
  std::string log;
  EXPECT_NE(run_with_config("unknown-key", "brokr = \"embedded\"\n", log, {"worker"}), 0);
  EXPECT_NE(log.find("brokr"), std::string::npos) << log;
}

TEST(cli, mistyped_config_values_are_errors) {
  std::string log;
  EXPECT_NE(run_with_config("bad-type", "batch_size = \"lots\"\n", log, {"worker"}), 0);
  EXPECT_NE(log.find("batch"), std::string::npos) << log;
}

TEST(cli, config_file_values_are_used) {
  std::string log;
  auto rc = run_with_config("good",
                            "broker = \"kafka://127.0.0.1:1\"\nstartup_timeout_ms = 1500\n",
                            log, {"worker"});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(log.find("broker_unreachable"), std::string::npos) << log;
  EXPECT_NE(log.find("1500 ms"), std::string::npos) << log;
}

TEST(cli, unknown_environment_variables_are_errors) {
  auto dir = testkit::temp_dir("env");
  setenv("MEPHISTO_BROKR", "embedded", 1);
  child c{{colors_bin, "worker"}, dir + "/out.log"};
  auto rc = c.wait(30s);
  unsetenv("MEPHISTO_BROKR");
  EXPECT_EQ(rc, 2) << c.log();
  EXPECT_NE(c.log().find("MEPHISTO_BROKR"), std::string::npos) << c.log();
}

TEST(cli, unknown_flags_are_errors) {
  auto dir = testkit::temp_dir("flag");
  child c{{colors_bin, "worker", "--brokers", "x"}, dir + "/out.log"};
  EXPECT_NE(c.wait(30s), 0);
  EXPECT_NE(c.log().find("brokers"), std::string::npos) << c.log();
}
