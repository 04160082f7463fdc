// The colors binary as users run it: separate processes on one embedded broker
// (`colors broker`), clean restarts, two workers in one group, and clear errors for bad
// configuration and unreachable brokers.

#include <csignal>
#include <fstream>
#include <map>
#include <cstdlib>
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

struct cluster : ::testing::Test {
  void SetUp() override {
    dir = testkit::temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
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

namespace {

/// The cluster address a worker logged ("cluster: listening on HOST:PORT").
std::string cluster_address(child& w) {
  if (!w.wait_for_log("cluster: listening on ", 30s))
    return {};
  std::smatch m;
  auto log = w.log();
  std::regex_search(log, m, std::regex{"cluster: listening on ([0-9.]+:[0-9]+)"});
  return m.size() > 1 ? m[1].str() : std::string{};
}

/// Runs `colors table get TABLE KEY --peer PEER --cluster_secret SECRET`; returns the exit
/// code and the output.
std::pair<int, std::string> table_get(const std::string& dir, const std::string& peer,
                                      const std::string& secret, const std::string& key) {
  static int n = 0;
  child c{{colors_bin, "table", "get", "colors-count", key, "--peer", peer, "--cluster_secret",
           secret},
          dir + "/get-" + std::to_string(n++) + ".log"};
  auto rc = c.wait(30s);
  return {rc, c.log()};
}

} // namespace

TEST_F(cluster, lookups_from_any_instance_reach_the_owner_of_the_key) {
  auto start = [&](const std::string& name, const std::string& seeds) {
    std::vector<std::string> flags{"--cluster_secret", "s3cret"};
    if (!seeds.empty())
      flags.insert(flags.end(), {"--cluster_seeds", seeds});
    return testkit::start_worker(colors_bin, url, dir, name, flags);
  };
  auto w1 = start("w1", "");
  auto a1 = cluster_address(*w1);
  ASSERT_FALSE(a1.empty()) << w1->log();
  ASSERT_TRUE(w1->wait_for_log("assigned: ", 60s)) << w1->log();
  auto w2 = start("w2", a1);
  auto a2 = cluster_address(*w2);
  ASSERT_FALSE(a2.empty()) << w2->log();
  ASSERT_TRUE(w1->wait_for_log("cluster: peer " + a2 + " up", 30s)) << w1->log();
  ASSERT_TRUE(w2->wait_for_log("assigned: ", 60s)) << w2->log();
  ASSERT_TRUE(w1->wait_for_log("revoked: ", 60s)) << w1->log();
  auto words = testkit::make_words(50'000, 12);
  testkit::produce(bootstrap, "input", words.words);
  auto out = testkit::consume(bootstrap, "output", words.color_words, 120s);
  testkit::expect_exact_running_counts(out, words.colors);
  std::this_thread::sleep_for(1500ms); // a heartbeat or two: both know who holds what
  // Every color from both instances: one holds it, the other routes the lookup.
  for (auto& peer : {a1, a2}) {
    for (auto& [color, n] : words.colors) {
      auto [rc, text] = table_get(dir, peer, "s3cret", color);
      EXPECT_EQ(rc, 0) << peer << " " << color << ": " << text;
      EXPECT_EQ(text, std::to_string(n) + "\n") << peer << " " << color;
    }
    auto [rc, text] = table_get(dir, peer, "s3cret", "pink");
    EXPECT_EQ(rc, 3) << text;
  }
  // A wrong secret is refused, and the worker says so.
  auto [rc, text] = table_get(dir, a1, "guess", "red");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(text.find("refused"), std::string::npos) << text;
  EXPECT_TRUE(w1->wait_for_log("wrong secret", 10s)) << w1->log();
  // A hung peer (SIGSTOP) is marked down within the heartbeat timeout (3 s) plus a beat;
  // lookups of its keys are then a clear error, not a hang.
  auto stopped = std::chrono::steady_clock::now();
  w2->signal(SIGSTOP);
  EXPECT_TRUE(w1->wait_for_log("cluster: peer " + a2 + " down", 10s)) << w1->log();
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, 6s);
  w2->signal(SIGCONT);
  EXPECT_TRUE(w1->wait_for_log("cluster: peer " + a2 + " up", 20s, 2)) << w1->log();
  w1->signal(SIGTERM);
  w2->signal(SIGTERM);
  EXPECT_EQ(w1->wait(60s), 0) << w1->log();
  EXPECT_EQ(w2->wait(60s), 0) << w2->log();
}

namespace {

/// Runs a shell command (openssl), failing the test when it fails.
void run(const std::string& command) {
  ASSERT_EQ(std::system((command + " >/dev/null 2>&1").c_str()), 0) << command;
}

/// A CA `NAME-ca.pem` and a certificate `NAME.pem` / `NAME.key` it signed, in `dir`.
void make_certificates(const std::string& dir, const std::string& name) {
  auto p = dir + "/" + name;
  run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=" + name + "-ca -keyout "
      + p + "-ca.key -out " + p + "-ca.pem");
  run("openssl req -newkey rsa:2048 -nodes -subj /CN=" + name + " -keyout " + p + ".key -out "
      + p + ".csr");
  run("openssl x509 -req -days 2 -in " + p + ".csr -CA " + p + "-ca.pem -CAkey " + p
      + "-ca.key -CAcreateserial -out " + p + ".pem");
}

std::vector<std::string> tls_flags(const std::string& dir, const std::string& name,
                                   const std::string& ca) {
  return {"--cluster_tls_cert", dir + "/" + name + ".pem", "--cluster_tls_key",
          dir + "/" + name + ".key", "--cluster_tls_ca", dir + "/" + ca + "-ca.pem"};
}

} // namespace

TEST_F(cluster, tls_peers_join_and_answer_lookups_and_others_are_refused) {
  if (std::system("command -v openssl >/dev/null") != 0)
    GTEST_FAIL() << "NO OPENSSL COMMAND: the TLS test needs it to make certificates "
                    "(apt-get install openssl)";
  make_certificates(dir, "node");
  make_certificates(dir, "rogue"); // signed by another CA
  auto start = [&](const std::string& name, std::vector<std::string> flags) {
    flags.insert(flags.end(), {"--cluster_secret", "s3cret"});
    return testkit::start_worker(colors_bin, url, dir, name, flags);
  };
  auto w1 = start("w1", tls_flags(dir, "node", "node"));
  auto a1 = cluster_address(*w1);
  ASSERT_FALSE(a1.empty()) << w1->log();
  EXPECT_TRUE(w1->wait_for_log("(TLS)", 5s)) << w1->log();
  auto flags2 = tls_flags(dir, "node", "node");
  flags2.insert(flags2.end(), {"--cluster_seeds", a1});
  auto w2 = start("w2", flags2);
  auto a2 = cluster_address(*w2);
  ASSERT_FALSE(a2.empty()) << w2->log();
  ASSERT_TRUE(w1->wait_for_log("cluster: peer " + a2 + " up", 30s)) << w1->log();
  ASSERT_TRUE(w2->wait_for_log("cluster: peer " + a1 + " up", 30s)) << w2->log();
  ASSERT_TRUE(w2->wait_for_log("assigned: ", 60s)) << w2->log();
  auto words = testkit::make_words(20'000, 13);
  testkit::produce(bootstrap, "input", words.words);
  auto out = testkit::consume(bootstrap, "output", words.color_words, 120s);
  testkit::expect_exact_running_counts(out, words.colors);
  std::this_thread::sleep_for(1500ms); // a heartbeat or two: both know who holds what
  auto get = [&](const std::string& peer, std::vector<std::string> flags) {
    static int n = 0;
    std::vector<std::string> argv{colors_bin, "table", "get", "colors-count", "red", "--peer",
                                  peer, "--cluster_secret", "s3cret"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    child c{argv, dir + "/tls-get-" + std::to_string(n++) + ".log"};
    auto rc = c.wait(30s);
    return std::pair{rc, c.log()};
  };
  // Over TLS, from both instances (one routes the lookup to the other).
  for (auto& peer : {a1, a2}) {
    auto [rc, text] = get(peer, tls_flags(dir, "node", "node"));
    EXPECT_EQ(rc, 0) << peer << ": " << text;
    EXPECT_EQ(text, std::to_string(words.colors["red"]) + "\n") << peer;
  }
  // Plain TCP, or a certificate from another CA: no answer.
  auto [plain_rc, plain] = get(a1, {});
  EXPECT_EQ(plain_rc, 1) << plain;
  auto [rogue_rc, rogue] = get(a1, tls_flags(dir, "rogue", "rogue"));
  EXPECT_EQ(rogue_rc, 1) << rogue;
  // A plain instance cannot join the TLS cluster.
  auto w3 = start("w3", {"--cluster_seeds", a1});
  auto a3 = cluster_address(*w3);
  ASSERT_FALSE(a3.empty()) << w3->log();
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(w1->log().find("cluster: peer " + a3 + " up"), std::string::npos) << w1->log();
  // Neither those failures nor the lookup clients leaving broke the link between w1 and
  // w2 (CAF 0.17.6 did, see runtime/src/openssl_error_queue.c).
  EXPECT_EQ(w1->log().find("cluster: peer " + a2 + " down"), std::string::npos) << w1->log();
  // Half the TLS settings is a clear error.
  child half{{colors_bin, "worker", "--broker", url, "--cluster_tls_cert", dir + "/node.pem"},
             dir + "/half.log"};
  EXPECT_EQ(half.wait(30s), 1);
  EXPECT_NE(half.log().find("cluster_tls_key"), std::string::npos) << half.log();
  for (auto* w : {w1.get(), w2.get(), w3.get()})
    w->signal(SIGTERM);
  for (auto* w : {w1.get(), w2.get(), w3.get()})
    EXPECT_EQ(w->wait(60s), 0) << w->log();
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
  child c{{colors_bin, "worker", "--broker", "embedded", "--session_timeout_ms", "500"},
          dir + "/c.log"};
  EXPECT_EQ(c.wait(30s), 1) << c.log();
  EXPECT_NE(c.log().find("session_timeout_ms must be at least 1000"), std::string::npos)
    << c.log();
  child d{{colors_bin, "worker", "--broker", "embedded", "--table_standby_replicas", "-1"},
          dir + "/d.log"};
  EXPECT_EQ(d.wait(30s), 1) << d.log();
  EXPECT_NE(d.log().find("table_standby_replicas must be"), std::string::npos) << d.log();
}

namespace {

int run_with_config(const std::string& name, const std::string& config, std::string& log,
                    std::vector<std::string> extra = {}) {
  auto dir = testkit::temp_dir(name);
  std::ofstream{dir + "/app.toml"} << config;
  std::vector<std::string> args{colors_bin, "--config", dir + "/app.toml"};
  args.insert(args.end(), extra.begin(), extra.end());
  return testkit::run_to_exit(args, dir + "/out.log", 30s, log);
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
