// A windowed count with one final result per window (`on_window_close`) under exactly-once
// on the real broker: ten kill -9s of the worker while events flow, mid-window every time;
// then every window must have exactly one final result, equal to the count computed here.
// The same app's batch agent (`take`) must have put every event in exactly one batch.

#include "integration/real_kafka.hpp"
#include "support/window_checks.hpp"

using namespace kafka_suite;

TEST_F(real_kafka, exactly_once_windowed_final_results_survive_ten_kill_9s) {
  testkit::recreate_topic(bootstrap, "events", 8);
  testkit::recreate_topic(bootstrap, "window-finals", 8);
  testkit::recreate_topic(bootstrap, "sink-batches", 8);
  auto stream = testkit::make_window_events(100'000, 100, 51);
  workload w{WINDOW_BIN, "events", "window-finals", "window-counts", stream.events, true, {},
             51};
  auto flags = guarantee_flags("exactly_once");
  flags.insert(flags.end(), {"--instance_id", "window-worker", "--take_sink"});
  auto h = workers(w, flags, false);
  std::atomic<size_t> fed{0};
  auto feeder = feed_in_background(w, 0, w.events.size(), 1000, 200ms, fed);
  int victim = h->start();
  const int kills = 10;
  kill_9_repeatedly(*h, victim, kills);
  if (HasFatalFailure())
    return;
  feeder.join();
  h->note("input fed");
  EXPECT_EQ(fed.load(), w.events.size());
  h->restart(victim);
  ASSERT_TRUE(h->wait_ready(victim, 90s)) << h->timeline() << h->log(victim);
  testkit::produce_keyed(bootstrap, w.input, stream.closers);
  h->note("closers fed");
  std::vector<testkit::record> finals;
  auto deadline = std::chrono::steady_clock::now() + 180s;
  for (size_t before = SIZE_MAX; std::chrono::steady_clock::now() < deadline;) {
    finals = testkit::consume(bootstrap, w.output, stream.truth.size(), 10s);
    if (finals.size() >= stream.truth.size() && finals.size() == before)
      break;
    before = finals.size();
  }
  h->note("final results read");
  auto batches = testkit::judge_batches(
    testkit::consume(bootstrap, "sink-batches", SIZE_MAX, 5s), stream, 100);
  auto closed = metric_of(*h, victim, "mephisto_windows_closed_total");
  EXPECT_EQ(h->stop(victim), 0) << h->timeline() << h->log(victim);
  auto v = testkit::judge_finals(finals, stream.truth);
  EXPECT_EQ(v.missing, 0u);
  EXPECT_EQ(v.duplicated, 0u);
  EXPECT_EQ(v.wrong, 0u);
  EXPECT_EQ(v.unexpected, 0u);
  EXPECT_GT(closed, 0u) << "the last run closed windows itself";
  EXPECT_EQ(batches.missing, 0u);
  EXPECT_EQ(batches.repeated, 0u) << "exactly-once: a batch's events are committed with it";
  EXPECT_EQ(batches.oversized, 0u);
  EXPECT_EQ(batches.unexpected, 0u);
  if (HasFailure())
    std::printf("%s", h->timeline().c_str());
  std::printf("[ summary  ] exactly-once windowed: %zu events, %d kills, %zu windows: %zu "
              "missing, %zu duplicated, %zu wrong, %zu unexpected final results (read "
              "committed); the last run closed %llu\n",
              w.events.size(), kills, v.windows, v.missing, v.duplicated, v.wrong,
              v.unexpected, static_cast<unsigned long long>(closed));
  std::printf("[ summary  ] exactly-once batch agent: %zu batches of %zu events: %zu missing, "
              "%zu repeated, %zu over 100 events\n",
              batches.batches, batches.events, batches.missing, batches.repeated,
              batches.oversized);
}
