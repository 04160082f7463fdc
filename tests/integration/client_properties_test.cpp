// Kafka client properties on the colors binary's command line, as users give them: flags,
// the environment and the config file, checked at start with errors that name them.
// (Against a broker that needs them, SASL: tests/integration/kafka_security_test.cpp.)

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/testkit.hpp"

using namespace std::chrono_literals;
using mephisto::testing::process;

namespace {

const std::string colors_bin = COLORS_BIN;

/// Runs the colors worker on the embedded broker with `extra` arguments until it exits
/// (30 s at most); returns the exit code and its log.
int run_worker(const std::string& name, std::vector<std::string> extra, std::string& log) {
  auto dir = testkit::temp_dir(name);
  std::vector<std::string> args{colors_bin, "worker", "--broker", "embedded"};
  args.insert(args.end(), extra.begin(), extra.end());
  process p{args, dir + "/out.log"};
  auto rc = p.wait(30s);
  log = p.log();
  return rc;
}

} // namespace

TEST(client_properties_cli, an_unknown_property_is_an_error_naming_it) {
  std::string log;
  EXPECT_EQ(run_worker("unknown-property", {"--kafka.no.such.property", "1"}, log), 1) << log;
  EXPECT_NE(log.find("kafka.no.such.property"), std::string::npos) << log;
}

TEST(client_properties_cli, a_property_mephisto_sets_itself_is_refused) {
  std::string log;
  EXPECT_EQ(run_worker("owned-property", {"--consumer.enable.auto.commit=true"}, log), 1) << log;
  EXPECT_NE(log.find("consumer.enable.auto.commit"), std::string::npos) << log;
}

TEST(client_properties_cli, the_environment_maps_underscores_to_dots) {
  // Not "unknown environment variable": it names the property it became.
  ::setenv("MEPHISTO_KAFKA_NO_SUCH__PROPERTY", "1", 1);
  std::string log;
  auto rc = run_worker("env-property", {}, log);
  ::unsetenv("MEPHISTO_KAFKA_NO_SUCH__PROPERTY");
  EXPECT_EQ(rc, 1) << log;
  EXPECT_NE(log.find("kafka.no.such_property"), std::string::npos) << log;
}

TEST(client_properties_cli, the_config_file_takes_them_and_still_refuses_unknown_keys) {
  auto dir = testkit::temp_dir("file-property");
  std::ofstream{dir + "/bad.toml"} << "broker = \"embedded\"\nkafka.no.such.property = \"1\"\n";
  process bad{{colors_bin, "--config", dir + "/bad.toml", "worker"}, dir + "/bad.log"};
  EXPECT_EQ(bad.wait(30s), 1) << bad.log();
  EXPECT_NE(bad.log().find("kafka.no.such.property"), std::string::npos) << bad.log();
  // The same in a [kafka] section.
  std::ofstream{dir + "/section.toml"} << "broker = \"embedded\"\n[kafka]\nno.such.property = \"1\"\n";
  process section{{colors_bin, "--config", dir + "/section.toml", "worker"},
                  dir + "/section.log"};
  EXPECT_EQ(section.wait(30s), 1) << section.log();
  EXPECT_NE(section.log().find("kafka.no.such.property"), std::string::npos) << section.log();
  std::ofstream{dir + "/typo.toml"} << "brokr = \"embedded\"\n";
  process typo{{colors_bin, "--config", dir + "/typo.toml", "worker"}, dir + "/typo.log"};
  EXPECT_NE(typo.wait(30s), 0) << typo.log();
  EXPECT_NE(typo.log().find("brokr"), std::string::npos) << typo.log();
}

TEST(client_properties_cli, valid_properties_reach_a_running_worker) {
  // Accepted by every client kind (client.rack is a consumer property librdkafka ignores
  // on producers with a warning; socket.keepalive.enable is common).
  auto dir = testkit::temp_dir("valid-property");
  std::ofstream{dir + "/app.toml"} << "[kafka]\nsocket.keepalive.enable = \"true\"\n";
  process w{{colors_bin, "--config", dir + "/app.toml", "worker", "--broker", "embedded",
             "--consumer.client.rack", "r1", "--producer.message.send.max.retries=5"},
            dir + "/w.log"};
  ASSERT_TRUE(w.wait_for_log("assigned: ", 60s)) << w.log();
  w.signal(SIGTERM);
  EXPECT_EQ(w.wait(60s), 0) << w.log();
}
