// The worker's `inject_faults` option (crash tests): what it parses, what it refuses, and
// that a failure fires once and only for its topic, partition and offset.

#include "mephisto/actors/fault_plan.hpp"

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

using namespace mephisto;
using namespace std::chrono_literals;

TEST(fault_plan, parses_every_kind) {
  auto plan = fault_plan::parse(
    "fail@input/3/1200;crash@colors-colors_topic/0/7;slow@a/b/1/20;produce-fail@2000-4000");
  ASSERT_TRUE(plan) << render(plan.error());
  auto& p = **plan;
  ASSERT_EQ(p.failures.size(), 2u);
  EXPECT_EQ(p.failures[0]->describe(), "fail@input/3/1200");
  EXPECT_TRUE(p.failures[1]->crash);
  ASSERT_EQ(p.slow.size(), 1u);
  EXPECT_EQ(p.slow[0].topic, "a/b"); // the last two fields are the numbers
  EXPECT_EQ(p.delay_of("a/b", "x", 1), 20ms);
  EXPECT_EQ(p.delay_of("a/b", "x", 2), 0ms);
  EXPECT_EQ(p.produce_fail_from, 2000ms);
  EXPECT_EQ(p.produce_fail_to, 4000ms);
  EXPECT_FALSE(p.produce_failing()); // 2 s after its start
}

TEST(fault_plan, an_empty_option_is_no_plan_and_bad_parts_are_named) {
  auto none = fault_plan::parse("");
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, nullptr);
  for (auto bad : {"fail@input/3", "boom@input/1/2", "slow@input/x/5", "produce-fail@9-3",
                   "fail@input/-1/5", "crash", "cut-links@"}) {
    auto plan = fault_plan::parse(std::string{"fail@ok/0/1;"} + bad);
    ASSERT_FALSE(plan) << bad;
    EXPECT_NE(render(plan.error()).find(bad), std::string::npos) << render(plan.error());
  }
}

TEST(fault_plan, cut_links_are_what_the_file_lists_now) {
  auto file = ::testing::TempDir() + "fault_plan_links";
  std::remove(file.c_str());
  auto plan = fault_plan::parse("cut-links@" + file);
  ASSERT_TRUE(plan) << render(plan.error());
  auto& p = **plan;
  EXPECT_EQ(p.links_file, file);
  EXPECT_TRUE(p.cut_links().empty()); // no file: no link cut
  std::ofstream{file} << "127.0.0.1:4001\n\n127.0.0.1:4002\n";
  EXPECT_EQ(p.cut_links(), (std::set<std::string>{"127.0.0.1:4001", "127.0.0.1:4002"}));
  std::ofstream{file} << "";
  EXPECT_TRUE(p.cut_links().empty()); // emptied: restored
  std::remove(file.c_str());
}

TEST(fault_plan, a_failure_fires_once_inside_its_batch_only) {
  auto plan = *fault_plan::parse("fail@input/3/1200");
  EXPECT_EQ(plan->take_failure("input", "input", 2, 1000, 2000), nullptr);  // other partition
  EXPECT_EQ(plan->take_failure("input", "input", 3, 1201, 2000), nullptr);  // past it
  EXPECT_EQ(plan->take_failure("other", "other", 3, 1000, 2000), nullptr);  // other topic
  EXPECT_NE(plan->take_failure("in", "input", 3, 1200, 1201), nullptr);     // the Kafka name
  EXPECT_EQ(plan->take_failure("input", "input", 3, 1000, 2000), nullptr);  // fired already
}
