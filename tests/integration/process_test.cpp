// The colors binary as users run it: separate processes on one embedded broker
// (`colors broker`), clean restarts, two workers in one group, and clear errors for bad
// configuration and unreachable brokers (the lookups between instances:
// cluster_lookup_test.cpp).

#include <cstdlib>
#include <fstream>
#include <string>

#include "integration/process_cluster.hpp"
#include "support/scenarios.hpp"

using namespace process_suite;

TEST_F(cluster, restart_mid_stream_continues_counting_from_the_changelog) {
  testkit::restart_mid_stream(bootstrap, *workers(), 100'000, 7, 5000);
}

TEST_F(cluster, two_workers_split_the_partitions_and_the_result_is_exact) {
  testkit::two_workers_split(bootstrap, *workers(), 100'000, 9);
}

TEST_F(cluster, two_workers_with_rocksdb_tables_split_the_partitions_exactly) {
  // Each worker has its own store directory; rebalances close and reopen the stores.
  testkit::two_workers_split(bootstrap, *workers({}, true), 100'000, 10);
}

TEST_F(cluster, kcat_and_send_reach_the_embedded_broker) {
  auto h = workers();
  int w = h->start();
  ASSERT_TRUE(h->wait_ready(w, 30s)) << h->timeline() << h->log(w);
  for (auto word : {"red", "dog", "red"}) {
    mt::process send{{colors_bin, "send", "input", word, "--broker", url}, dir + "/send.log"};
    ASSERT_EQ(send.wait(30s), 0) << send.log();
  }
  auto out = testkit::consume(bootstrap, "output", 2, 30s);
  testkit::expect_exact_running_counts(out, {{"red", 2}});
  EXPECT_EQ(h->stop(w, 30s), 0) << h->timeline() << h->log(w);
}

namespace {

/// A one-shot run of the colors binary: its exit code (as `process::wait`) and output.
struct cli_run {
  int code = -1;
  std::string out;
};

cli_run run(std::vector<std::string> args, const std::string& log_path,
            std::vector<std::string> env = {}) {
  args.insert(args.begin(), colors_bin);
  mt::process p{std::move(args), log_path, std::move(env)};
  cli_run r;
  r.code = p.wait(30s);
  r.out = p.log();
  return r;
}

} // namespace

TEST(cli, an_unreachable_broker_is_a_clear_error_in_bounded_time) {
  auto dir = testkit::temp_dir("unreachable");
  auto start = std::chrono::steady_clock::now();
  auto w = run({"worker", "--broker", "kafka://127.0.0.1:1", "--startup_timeout_ms", "2000"},
               dir + "/w.log");
  EXPECT_EQ(w.code, 1) << w.out;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  EXPECT_NE(w.out.find("broker_unreachable"), std::string::npos) << w.out;
}

TEST(cli, a_bad_broker_url_is_a_clear_error) {
  auto dir = testkit::temp_dir("badurl");
  auto w = run({"worker", "--broker", "localhost:9092"}, dir + "/w.log");
  EXPECT_EQ(w.code, 1) << w.out;
  EXPECT_NE(w.out.find("bad_broker_url"), std::string::npos) << w.out;
}

TEST(cli, exactly_once_on_the_embedded_broker_is_refused) {
  auto dir = testkit::temp_dir("eos-embedded");
  auto w = run({"worker", "--broker", "embedded", "--processing_guarantee", "exactly_once"},
               dir + "/w.log");
  EXPECT_EQ(w.code, 1) << w.out;
  EXPECT_NE(w.out.find("exactly_once needs a real Kafka broker"), std::string::npos) << w.out;
}

TEST(cli, bad_store_and_guarantee_values_are_errors) {
  auto dir = testkit::temp_dir("bad-store");
  auto a = run({"worker", "--broker", "embedded", "--store", "rocksdb://"}, dir + "/a.log");
  EXPECT_EQ(a.code, 1) << a.out;
  EXPECT_NE(a.out.find("rocksdb://<directory>"), std::string::npos) << a.out;
  auto b = run({"worker", "--broker", "embedded", "--processing_guarantee", "twice"},
               dir + "/b.log");
  EXPECT_EQ(b.code, 1) << b.out;
  EXPECT_NE(b.out.find("use at_least_once or exactly_once"), std::string::npos) << b.out;
  auto c = run({"worker", "--broker", "embedded", "--session_timeout_ms", "500"},
               dir + "/c.log");
  EXPECT_EQ(c.code, 1) << c.out;
  EXPECT_NE(c.out.find("session_timeout_ms must be at least 1000"), std::string::npos)
    << c.out;
  auto d = run({"worker", "--broker", "embedded", "--table_standby_replicas", "-1"},
               dir + "/d.log");
  EXPECT_EQ(d.code, 1) << d.out;
  EXPECT_NE(d.out.find("table_standby_replicas must be"), std::string::npos) << d.out;
}

namespace {

cli_run run_with_config(const std::string& name, const std::string& config,
                        std::vector<std::string> extra = {}) {
  auto dir = testkit::temp_dir(name);
  std::ofstream{dir + "/app.toml"} << config;
  std::vector<std::string> args{"--config", dir + "/app.toml"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run(args, dir + "/out.log");
}

} // namespace

TEST(cli, unknown_config_keys_are_errors) {
  auto r = run_with_config("unknown-key", "brokr = \"embedded\"\n", {"worker"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("brokr"), std::string::npos) << r.out;
}

TEST(cli, mistyped_config_values_are_errors) {
  auto r = run_with_config("bad-type", "batch_size = \"lots\"\n", {"worker"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("batch"), std::string::npos) << r.out;
}

TEST(cli, config_file_values_are_used) {
  auto r = run_with_config("good", "broker = \"kafka://127.0.0.1:1\"\nstartup_timeout_ms = 1500\n",
                           {"worker"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("broker_unreachable"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1500 ms"), std::string::npos) << r.out;
}

TEST(cli, unknown_environment_variables_are_errors) {
  auto dir = testkit::temp_dir("env");
  auto r = run({"worker"}, dir + "/out.log", {"MEPHISTO_BROKR=embedded"});
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("MEPHISTO_BROKR"), std::string::npos) << r.out;
}

TEST(cli, unknown_flags_are_errors) {
  auto dir = testkit::temp_dir("flag");
  auto r = run({"worker", "--brokers", "x"}, dir + "/out.log");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("brokers"), std::string::npos) << r.out;
}
