// The real broker unreachable for 30 s mid-stream: its JVM stopped with SIGSTOP, then
// continued (SIGCONT). A colors worker process resumes and loses nothing, under both
// guarantees (exactly-once: no output twice either). The scenario: support/outage.hpp.

#include <csignal>
#include <fstream>

#include "integration/real_kafka.hpp"
#include "support/outage.hpp"

using namespace kafka_suite;

namespace {

/// Stops (SIGSTOP) or continues (SIGCONT) the broker the fixture started (KAFKA_DIR/pid).
void set_broker_running(bool running) {
  pid_t pid = 0;
  std::ifstream{std::string{KAFKA_DIR} + "/pid"} >> pid;
  ASSERT_GT(pid, 0) << "no broker pid in " << KAFKA_DIR;
  ASSERT_EQ(::kill(pid, running ? SIGCONT : SIGSTOP), 0);
}

} // namespace

struct real_kafka_outage : real_kafka {
  void TearDown() override { set_broker_running(true); } // whatever happened, go on

  testkit::outage_report run(const std::string& scenario, const std::string& guarantee,
                             uint32_t seed) {
    auto w = colors(60'000, seed);
    testkit::outage_plan plan;
    plan.bootstrap = bootstrap;
    plan.worker = [this, w, guarantee](const std::string& name) {
      return start(w, name, guarantee_flags(guarantee, "memory://"));
    };
    plan.set_reachable = set_broker_running;
    plan.exactly_once = guarantee == "exactly_once";
    plan.seed = seed;
    return testkit::broker_outage(scenario, plan);
  }
};

TEST_F(real_kafka_outage, at_least_once_resumes_after_a_30_s_sigstop_and_loses_nothing) {
  auto rep = run("real broker outage at-least-once", "at_least_once", 62);
  EXPECT_TRUE(rep.passed);
  EXPECT_EQ(rep.missing, 0u);
}

TEST_F(real_kafka_outage, exactly_once_resumes_after_a_30_s_sigstop_exactly) {
  auto rep = run("real broker outage exactly-once", "exactly_once", 63);
  EXPECT_TRUE(rep.passed);
  EXPECT_EQ(rep.missing, 0u);
  EXPECT_EQ(rep.duplicates, 0u);
}
