// The embedded broker unreachable for 30 s mid-stream (every broker of the mock cluster
// set down, then up): a colors worker process resumes and loses nothing, at-least-once
// (the only guarantee the embedded broker allows). The scenario: support/outage.hpp.

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "colors_app.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/mephisto.hpp"
#include "support/outage.hpp"

using namespace std::chrono_literals;

TEST(outage_embedded, at_least_once_resumes_after_30_s_unreachable_and_loses_nothing) {
  auto dir = testkit::temp_dir("outage_embedded");
  // The broker lives in this process, so the test can take it away; the app's topics are
  // made through the mock API, as `colors broker` does.
  mephisto::kafka::embedded_broker broker;
  ASSERT_FALSE(broker.start());
  mephisto::app app{"colors"};
  colors::declare(app);
  mephisto::worker_options opts;
  for (auto& spec : app.resolve(opts)->topic_specs(opts.topic_partitions))
    ASSERT_FALSE(broker.create_topic(spec.name,
                                     spec.partitions > 0 ? spec.partitions : opts.topic_partitions));
  testkit::outage_plan plan;
  plan.bootstrap = broker.bootstrap();
  mephisto::testing::harness workers{testkit::suite_workers(COLORS_BIN, broker.url(), dir)};
  plan.workers = &workers;
  plan.set_reachable = [&](bool up) { ASSERT_FALSE(broker.set_reachable(up)); };
  plan.seed = 61;
  auto rep = testkit::broker_outage("embedded outage at-least-once", plan);
  EXPECT_TRUE(rep.passed);
  EXPECT_EQ(rep.missing, 0u);
}
