// Timers on every instance (`on_leader = false`): two workers of one app in the user's
// actor system, on an embedded broker; each instance runs its own copy of the timer, while
// a leader timer runs where the leader partition is.

#include "integration/embedding_support.hpp"

using namespace embedding_suite;

namespace {

/// The app, built once per instance so that each one's timers say which instance ran them
/// (same id, topics and agents: one consumer group).
std::unique_ptr<mephisto::app> timers_app(const std::string& instance) {
  auto app = std::make_unique<mephisto::app>("timers-everywhere");
  auto events = app->topic<std::string>("events");
  auto beats = app->topic<std::string, std::int64_t>("beats", {.internal = true});
  app->agent("ignore", events, [](const std::string&, mephisto::context&) {});
  auto runs = std::make_shared<std::int64_t>(0);
  app->timer(100ms, [=](mephisto::context& ctx) { ctx.send(beats, instance, ++*runs); },
             {.on_leader = false});
  app->timer(100ms, [=](mephisto::context& ctx) { ctx.send(beats, "leader", 0); });
  return app;
}

} // namespace

TEST(embedding, a_timer_on_every_instance_runs_on_each_of_them) {
  auto app_a = timers_app("a");
  auto app_b = timers_app("b");
  auto opts = options("embedded");
  opts.cluster_listen = "off";
  opts.processing_guarantee = "exactly_once"; // the instance timers send outside transactions
  auto broker = broker_for(*app_a, opts);
  opts.broker = broker->url();
  auto cfg = user_config(opts);
  caf::actor_system sys{*cfg};
  mephisto::worker a{sys, *app_a, opts};
  ASSERT_FALSE(a.start());
  mephisto::worker b{sys, *app_b, opts};
  ASSERT_FALSE(b.start());
  // The group settled: `events` (8 partitions) and the leader partition shared out.
  ASSERT_TRUE(eventually([&] {
    return a.stats().assigned.load() + b.stats().assigned.load() == 9;
  }, 60s));
  std::this_thread::sleep_for(3s);
  a.stop();
  b.stop();
  EXPECT_FALSE(a.wait());
  EXPECT_FALSE(b.wait());
  auto topic = app_a->resolve(opts)->topics[1].kafka_name;
  std::map<std::string, std::vector<std::int64_t>> runs;
  for (auto& r : testkit::consume(broker->bootstrap(), topic, SIZE_MAX, 3s)) {
    std::int64_t n = 0;
    std::string why;
    ASSERT_TRUE(mephisto::codec<std::int64_t>::decode(r.value, n, why)) << why;
    runs[r.key].push_back(n);
  }
  // About 30 runs each in 3 s; at least 10 (a slow machine), numbered 1, 2, 3... per
  // instance: each ran its own copy, every run delivered once.
  for (auto instance : {"a", "b"}) {
    auto& seen = runs[instance];
    EXPECT_GE(seen.size(), 10u) << instance;
    std::sort(seen.begin(), seen.end());
    for (size_t i = 0; i < seen.size(); ++i)
      EXPECT_EQ(seen[i], static_cast<std::int64_t>(i + 1)) << instance;
  }
  EXPECT_GT(runs["leader"].size(), 0u) << "the leader timer runs where the leader partition is";
}
