// The real broker unreachable for 30 s mid-stream: its JVM stopped with SIGSTOP, then
// continued (SIGCONT). A colors worker process resumes and loses nothing, under both
// guarantees (exactly-once: no output twice either). The scenario: support/outage.hpp;
// the broker paused and resumed through the kit's kafka_broker.

#include "integration/real_kafka.hpp"
#include "support/outage.hpp"

using namespace kafka_suite;

struct real_kafka_outage : real_kafka {
  void TearDown() override {
    if (broker)
      broker->resume();
  } // whatever happened, go on

  testkit::outage_report run(const std::string& scenario, const std::string& guarantee,
                             uint32_t seed) {
    auto h = workers(colors_bin, guarantee_flags(guarantee), false, seed);
    testkit::outage_plan plan;
    plan.bootstrap = bootstrap;
    plan.workers = h.get();
    plan.set_reachable = [this](bool up) { up ? broker->resume() : broker->pause(); };
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
