// Kafka client properties against the real broker's SASL listener (tests/kafka/kafka.sh:
// SASL_PLAINTEXT, mechanism PLAIN, user mephisto / mephisto-secret): the colors app as a
// separate process, configured by flags and by the environment, as users run it; `colors
// lag` and `colors reset` log in with the same properties.

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

#include "integration/real_kafka.hpp"
#include "support/testkit.hpp"

using namespace std::chrono_literals;
namespace mt = mephisto::testing;

namespace {

const std::string password = "mephisto-secret";

struct sasl_kafka : ::testing::Test {
  void SetUp() override {
    std::ifstream{kafka_suite::kafka_dir() + "/bootstrap"} >> bootstrap;
    std::ifstream{kafka_suite::kafka_dir() + "/sasl_bootstrap"} >> sasl_bootstrap;
    ASSERT_FALSE(bootstrap.empty() || sasl_bootstrap.empty())
      << "NO REAL KAFKA BROKER WITH A SASL LISTENER: " << kafka_suite::kafka_dir()
      << "/sasl_bootstrap is missing; the ctest fixture kafka.start (tests/kafka/kafka.sh) "
         "must run first";
    auto name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    id = std::string{"sasl-"} + name + "-" + std::to_string(::getpid());
    dir = testkit::temp_dir(name);
    testkit::recreate_topic(bootstrap, "input", 8);
    testkit::recreate_topic(bootstrap, "output", 8);
  }

  /// The colors worker on the SASL listener, logging in as mephisto with `secret`.
  std::vector<std::string> sasl_flags(const std::string& secret) {
    return {"--id", id, "--kafka.security.protocol", "SASL_PLAINTEXT",
            "--kafka.sasl.mechanism=PLAIN", "--kafka.sasl.username", "mephisto",
            "--kafka.sasl.password", secret};
  }

  /// Colors workers on the SASL listener with `flags`.
  std::unique_ptr<mt::harness> workers(std::vector<std::string> flags) {
    return std::make_unique<mt::harness>(
      testkit::suite_workers(COLORS_BIN, "kafka://" + sasl_bootstrap, dir, std::move(flags)));
  }

  /// Once instance `w` is ready: feeds it `n` words and expects its exact running counts,
  /// then stops it cleanly.
  void expect_exact_colors(mt::harness& h, int w, size_t n, uint32_t seed) {
    ASSERT_TRUE(h.wait_ready(w, 60s)) << h.timeline() << h.log(w);
    auto words = testkit::make_words(n, seed);
    testkit::produce(bootstrap, "input", words.words);
    auto out = testkit::consume(bootstrap, "output", words.color_words, 120s);
    testkit::expect_exact_running_counts(out, words.colors);
    EXPECT_EQ(h.stop(w), 0) << h.timeline() << h.log(w);
  }

  std::string bootstrap;      ///< plaintext: the test's own clients
  std::string sasl_bootstrap; ///< the worker's
  std::string id;
  std::string dir;
};

} // namespace

TEST_F(sasl_kafka, with_the_right_credentials_the_colors_app_is_exact) {
  auto h = workers(sasl_flags(password));
  int w = h->start();
  expect_exact_colors(*h, w, 20'000, 31);
  EXPECT_EQ(h->log(w).find(password), std::string::npos) << "the password was logged";
}

TEST_F(sasl_kafka, with_a_wrong_password_the_worker_exits_1_within_the_startup_timeout) {
  auto flags = sasl_flags("not-the-password");
  flags.insert(flags.end(), {"--startup_timeout_ms", "5000"});
  auto started = std::chrono::steady_clock::now();
  flags.insert(flags.begin(), {COLORS_BIN, "worker", "--broker", "kafka://" + sasl_bootstrap});
  mt::process w{flags, dir + "/w.log"};
  EXPECT_EQ(w.wait(60s), 1) << w.log();
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(took, 5s + 10s) << "startup_timeout_ms is 5000";
  EXPECT_NE(w.log().find("authentication_failed"), std::string::npos) << w.log();
  EXPECT_NE(w.log().find("authentication failed"), std::string::npos) << w.log();
  EXPECT_EQ(w.log().find("not-the-password"), std::string::npos) << "the password was logged";
}

TEST_F(sasl_kafka, the_environment_carries_the_credentials_too) {
  // MEPHISTO_KAFKA_SASL_PASSWORD -> kafka.sasl.password (`_` stands for `.`).
  ::setenv("MEPHISTO_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT", 1);
  ::setenv("MEPHISTO_KAFKA_SASL_MECHANISM", "PLAIN", 1);
  ::setenv("MEPHISTO_KAFKA_SASL_USERNAME", "mephisto", 1);
  ::setenv("MEPHISTO_KAFKA_SASL_PASSWORD", password.c_str(), 1);
  auto h = workers({"--id", id});
  int w = h->start();
  for (auto* name : {"MEPHISTO_KAFKA_SECURITY_PROTOCOL", "MEPHISTO_KAFKA_SASL_MECHANISM",
                     "MEPHISTO_KAFKA_SASL_USERNAME", "MEPHISTO_KAFKA_SASL_PASSWORD"})
    ::unsetenv(name);
  expect_exact_colors(*h, w, 2'000, 32);
}

TEST_F(sasl_kafka, lag_and_reset_log_in_with_the_client_properties) {
  testkit::produce(bootstrap, "input", testkit::make_words(100, 33).words);
  int runs = 0;
  auto cli = [&](std::vector<std::string> args, const std::string& secret, std::string& out) {
    args.insert(args.begin(), COLORS_BIN);
    for (auto& flag : sasl_flags(secret))
      args.push_back(flag);
    args.insert(args.end(),
                {"--broker", "kafka://" + sasl_bootstrap, "--startup_timeout_ms", "5000"});
    mt::process p{args, dir + "/cli-" + std::to_string(++runs) + ".log"};
    auto rc = p.wait(60s);
    out = p.log();
    return rc;
  };
  std::string out;
  EXPECT_EQ(cli({"lag", "--json"}, password, out), 0) << out;
  EXPECT_NE(out.find("\"total_lag\":100"), std::string::npos) << out;
  EXPECT_EQ(cli({"reset", "--dry-run"}, password, out), 0) << out;
  EXPECT_EQ(cli({"lag"}, "not-the-password", out), 1) << out;
  EXPECT_NE(out.find("authentication_failed"), std::string::npos) << out;
  EXPECT_EQ(out.find("not-the-password"), std::string::npos) << "the password was logged";
}
