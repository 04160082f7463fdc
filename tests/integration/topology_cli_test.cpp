// `colors topics | tables | agents`: the declared topology with Kafka names and partition
// counts, as a user lists it before deploying (no broker: --broker embedded is not asked);
// `colors lag | reset` refuse the embedded broker and bad arguments (exit 2).

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/testkit.hpp"

using namespace std::chrono_literals;

namespace {

/// Runs `colors <args...>`; returns its exit code and output.
int run_colors(const std::string& name, std::vector<std::string> args, std::string& out) {
  auto dir = testkit::temp_dir(name);
  args.insert(args.begin(), COLORS_BIN);
  mephisto::testing::process p{args, dir + "/out.log"};
  auto rc = p.wait(30s);
  out = p.log();
  return rc;
}

bool has_line(const std::string& out, const std::string& line) {
  return ("\n" + out).find("\n" + line + "\n") != std::string::npos;
}

} // namespace

TEST(topology_cli, topics_lists_every_topic_with_its_kafka_name_and_partitions) {
  std::string out;
  ASSERT_EQ(run_colors("topics", {"topics", "--broker", "embedded", "--id", "prod"}, out), 0)
    << out;
  EXPECT_TRUE(has_line(out, "input  partitions as found  external, read by filter_colors"))
    << out;
  EXPECT_TRUE(has_line(out, "prod-colors_topic  partitions 8  internal, created by the app, "
                            "read by colors_count"))
    << out;
  EXPECT_TRUE(has_line(out, "prod-colors-count-changelog  partitions 8  changelog, created by "
                            "the app, compacted"))
    << out;
  EXPECT_TRUE(has_line(out, "prod-dead-letter  partitions 8  dead letters, created by the app"))
    << out;
}

TEST(topology_cli, tables_and_agents_list_changelogs_sources_and_who_uses_what) {
  std::string tables;
  ASSERT_EQ(run_colors("tables", {"tables", "--broker", "embedded", "--topic_partitions", "4"},
                       tables),
            0)
    << tables;
  EXPECT_TRUE(has_line(tables, "colors-count  changelog colors-colors-count-changelog  "
                               "partitions 4  used by colors_count"))
    << tables;
  std::string agents;
  ASSERT_EQ(run_colors("agents", {"agents", "--broker", "embedded"}, agents), 0) << agents;
  EXPECT_TRUE(has_line(agents, "filter_colors  on input  partitions as found  tables (none)"))
    << agents;
  EXPECT_TRUE(has_line(agents, "colors_count  on colors-colors_topic  partitions 8  tables "
                               "colors-count"))
    << agents;
}

TEST(topology_cli, an_unreachable_broker_is_a_clear_error) {
  std::string out;
  EXPECT_EQ(run_colors("topics-unreachable",
                       {"topics", "--broker", "kafka://127.0.0.1:1", "--startup_timeout_ms",
                        "1000"},
                       out),
            1)
    << out;
  EXPECT_NE(out.find("broker_unreachable"), std::string::npos) << out;
}

TEST(topology_cli, lag_and_reset_need_a_real_broker_and_a_valid_time) {
  std::string out;
  EXPECT_EQ(run_colors("lag-embedded", {"lag", "--broker", "embedded"}, out), 2) << out;
  EXPECT_EQ(run_colors("lag-json-embedded", {"lag", "--json", "--broker", "embedded"}, out), 2)
    << out;
  EXPECT_EQ(run_colors("reset-embedded", {"reset", "--broker", "embedded"}, out), 2) << out;
  EXPECT_EQ(run_colors("reset-dry-embedded", {"reset", "--dry-run", "--broker", "embedded"}, out),
            2)
    << out;
  // A bad time is refused before the broker is asked (port 1: nobody there).
  EXPECT_EQ(run_colors("reset-bad-time", {"reset", "--broker", "kafka://127.0.0.1:1",
                                          "--to-datetime", "yesterday"},
                       out),
            2)
    << out;
  // Both kinds of time at once: a usage error, not a reset.
  EXPECT_NE(run_colors("reset-two-times", {"reset", "--broker", "kafka://127.0.0.1:1",
                                           "--to-datetime", "2026-12-01T10:00:00Z",
                                           "--to-timestamp", "1"},
                       out),
            0)
    << out;
}
