// The crash tests on a real Apache Kafka 4.x broker (real processes, SIGKILL): ten kill -9s
// of one worker, a kill -9 among three instances, and a scale-out and back while events
// flow, under both guarantees (the fixture: real_kafka.hpp).

#include "integration/real_kafka.hpp"

using namespace kafka_suite;

TEST_F(real_kafka, at_least_once_survives_ten_kill_9s) {
  survive_kill_9s("at-least-once", colors(200'000, 24), "at_least_once", false);
}

TEST_F(real_kafka, exactly_once_memory_survives_ten_kill_9s) {
  survive_kill_9s("exactly-once memory", colors(200'000, 25), "exactly_once", false);
}

TEST_F(real_kafka, exactly_once_rocksdb_survives_ten_kill_9s) {
  survive_kill_9s("exactly-once rocksdb", counter(200'000, 1000, 27), "exactly_once", true);
}

TEST_F(real_kafka, at_least_once_rocksdb_survives_ten_kill_9s) {
  survive_kill_9s("at-least-once rocksdb", counter(200'000, 1000, 28), "at_least_once", true);
}

TEST_F(real_kafka, exactly_once_three_instances_survive_a_kill_9_and_a_restart) {
  three_instances_survive_a_kill_9("three instances exactly-once rocksdb",
                                   counter(100'000, 1000, 40), "exactly_once", true);
}

TEST_F(real_kafka, at_least_once_three_instances_survive_a_kill_9_and_a_restart) {
  three_instances_survive_a_kill_9("three instances at-least-once memory",
                                   counter(100'000, 1000, 41), "at_least_once", false);
}

// One exactly-once instance, two more join while events flow, then those two stop
// cleanly (SIGTERM) and the first one finishes alone: every rebalance commits the open
// transaction before its partitions move, so the running counts stay exact.
TEST_F(real_kafka, exactly_once_scale_out_1_3_1_while_events_flow_is_exact) {
  auto w = colors(150'000, 42);
  auto h = workers(w, guarantee_flags("exactly_once"));
  int first = h->start();
  ASSERT_TRUE(testkit::wait_for_split(*h, {first}, w.source_partitions, 60s))
    << h->timeline() << h->log(first);
  std::atomic<size_t> fed{0};
  // 8000 events/s: the rebalances find work in flight.
  auto feeder = feed_in_background(w, 0, w.events.size(), 2000, 250ms, fed);
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (fed < w.events.size() / 8 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);

  auto scale_out_at = std::chrono::steady_clock::now();
  const size_t fed_at_scale_out = fed;
  int second = h->start();
  int third = h->start();
  ASSERT_TRUE(testkit::wait_for_split(*h, {first, second, third}, w.source_partitions, 60s))
    << "the new instances got no share\n" << h->timeline();
  auto scale_out_s = seconds_since(scale_out_at);
  std::this_thread::sleep_for(2s); // three instances at work

  auto scale_in_at = std::chrono::steady_clock::now();
  const size_t fed_at_scale_in = fed;
  EXPECT_LT(fed_at_scale_in, w.events.size()) << "the scale-in did not happen mid-stream\n"
                                              << h->timeline();
  // What the two did, read right before their SIGTERMs (the drains process little more).
  auto second_events = metric_of(*h, second, "mephisto_events_total");
  auto third_events = metric_of(*h, third, "mephisto_events_total");
  EXPECT_EQ(h->stop(second), 0) << h->timeline() << h->log(second);
  EXPECT_EQ(h->stop(third), 0) << h->timeline() << h->log(third);
  ASSERT_TRUE(testkit::wait_for_split(*h, {first}, w.source_partitions, 60s))
    << "the first instance did not take all partitions back\n" << h->timeline()
    << h->log(first);
  auto scale_in_s = seconds_since(scale_in_at);
  // Both did part of the work, else this was no scale-out.
  EXPECT_GT(second_events, 0u) << h->timeline() << h->log(second);
  EXPECT_GT(third_events, 0u) << h->timeline() << h->log(third);

  feeder.join();
  h->note("input fed");
  EXPECT_EQ(fed.load(), w.events.size());
  wait_until_outputs_complete(w);
  h->note("outputs complete");
  EXPECT_EQ(h->stop(first), 0) << h->timeline() << h->log(first);
  auto result = expect_final_counts(w, true);
  if (HasFailure())
    std::printf("%s", h->timeline().c_str());
  std::printf("[ summary  ] exactly-once scale-out 1-3-1: %zu events, 0 kills, %zu lost, %zu "
              "duplicated outputs%s; 3 instances %.1f s after the scale-out (at event %zu), "
              "1 instance holding everything %.1f s after the SIGTERMs (at event %zu); the "
              "two stopped ones processed %llu and %llu events\n",
              w.events.size(), result.lost(), result.duplicated(), result.aborted.c_str(),
              scale_out_s, fed_at_scale_out, scale_in_s, fed_at_scale_in,
              static_cast<unsigned long long>(second_events),
              static_cast<unsigned long long>(third_events));
}
