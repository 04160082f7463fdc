// The crash scenarios of kafka_crash_test.cpp: ten kill -9s of one worker, and a kill -9
// among three instances, with the kill moments drawn from the harness's seeded random()
// and its timeline in every failure message.

#include "integration/real_kafka.hpp"

#include <csignal>

namespace kafka_suite {

/// Feeds the events of `w` in chunks while a worker (static membership, so each restart
/// takes the partitions back at once instead of waiting out the dead member's session
/// timeout) is SIGKILLed 10 times at random moments after it is ready, then lets it finish
/// and stop cleanly; `expect_final_counts` judges the result.
void real_kafka::kill_9_repeatedly(mt::harness& h, int victim, int kills) {
  for (int k = 0; k < kills; ++k) {
    if (k > 0)
      h.restart(victim);
    ASSERT_TRUE(h.wait_ready(victim, 90s)) << h.timeline() << h.log(victim);
    std::this_thread::sleep_for(h.between(200ms, 2199ms));
    EXPECT_EQ(h.kill(victim), 128 + SIGKILL) << h.timeline() << h.log(victim);
  }
}

void real_kafka::survive_kill_9s(const std::string& scenario, const workload& w,
                                 const std::string& guarantee, bool rocksdb) {
  auto flags = guarantee_flags(guarantee);
  flags.insert(flags.end(), {"--instance_id", "crash-worker"});
  auto h = workers(w, flags, rocksdb);
  std::atomic<size_t> fed{0};
  auto feeder = feed_in_background(w, 0, w.events.size(), 2000, 200ms, fed);
  int victim = h->start();
  const int kills = 10;
  kill_9_repeatedly(*h, victim, kills);
  if (HasFatalFailure())
    return;
  feeder.join();
  h->note("input fed");
  EXPECT_EQ(fed.load(), w.events.size());
  // The same instance, a last time: it finishes the input and stops cleanly.
  h->restart(victim);
  ASSERT_TRUE(h->wait_ready(victim, 90s)) << h->timeline() << h->log(victim);
  wait_until_outputs_complete(w);
  h->note("outputs complete");
  EXPECT_EQ(h->stop(victim), 0) << h->timeline() << h->log(victim);
  auto result = expect_final_counts(w, guarantee == "exactly_once");
  if (HasFailure())
    std::printf("%s", h->timeline().c_str());
  std::printf("[ summary  ] %s: %zu events, %d kills, %zu lost, %zu duplicated outputs%s\n",
              scenario.c_str(), w.events.size(), kills, result.lost(), result.duplicated(),
              result.aborted.c_str());
}

// Several instances in one consumer group, as a scaled-out deployment runs them. They have
// no --instance_id: dynamic membership is what instances get without configuring one each,
// and static membership would change nothing the kill test measures (a SIGKILLed member
// sends no LeaveGroup either way, so its partitions move only when its session times out,
// after 10 s) while it would stall the scale-in (a static member that stops cleanly keeps
// its partitions until its session times out). Under exactly-once it also covers the
// harder end of a dead instance's open transaction: with a transactional id nobody
// reuses, only the transaction timeout ends it (10 s, and up to 10 s more until the
// broker's next check aborts it); until then read_committed readers of its partitions
// see nothing past it, while the survivors already restore and process them.

/// Three instances of `w` (keyed: an event's input, table and output partitions are the
/// same) split the partitions. While events flow, one is SIGKILLed: its partitions move to
/// the two survivors, who go on processing them. Then it restarts with its store and
/// takes a share again while the last fifth of the events flows, so it has work. At the
/// end every instance stops cleanly and `expect_final_counts` judges the output.
void real_kafka::three_instances_survive_a_kill_9(const std::string& scenario,
                                                  const workload& w,
                                                  const std::string& guarantee, bool rocksdb) {
  ASSERT_TRUE(w.keyed) << "the killed instance's output partitions are its input partitions";
  auto h = workers(w, guarantee_flags(guarantee), rocksdb);
  const std::vector<int> all{h->start(), h->start(), h->start()};
  ASSERT_TRUE(testkit::wait_for_split(*h, all, w.source_partitions, 90s))
    << "the three instances never split the partitions\n" << h->timeline();

  std::atomic<size_t> fed{0};
  // 4000 events/s, flowing on well after the killed instance's session timed out (~10 s
  // after the kill).
  const size_t before_restart = w.events.size() * 4 / 5;
  auto feeder = feed_in_background(w, 0, before_restart, 1000, 250ms, fed);
  // Mid-stream: a fifth of the events in.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (fed < w.events.size() / 5 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  // Which input partitions each one processes (every partition has events by now).
  auto input_partitions = static_cast<size_t>(testkit::partition_count(bootstrap, w.input));
  auto split = testkit::wait_for_processed_split(*h, all, w.input, input_partitions, 10s);
  ASSERT_TRUE(split) << "the instances' consumer lag never named every input partition once\n"
                     << h->timeline();
  const int victim = all[1];
  auto moved = (*split)[1];
  // Exactly-once: while the victim's open transaction holds outputs, which it then never
  // commits (between two transactions a kill would test only the move).
  if (guarantee == "exactly_once")
    for (deadline = std::chrono::steady_clock::now() + 10s;
         testkit::records_in_open_transactions(bootstrap, w.output, moved) == 0
         && std::chrono::steady_clock::now() < deadline;)
      std::this_thread::sleep_for(5ms);
  auto killed_at = std::chrono::steady_clock::now();
  ASSERT_EQ(h->kill(victim), 128 + SIGKILL) << h->timeline() << h->log(victim);
  const size_t fed_at_kill = fed;
  EXPECT_LT(fed_at_kill, w.events.size()) << "the kill did not land mid-stream\n"
                                          << h->timeline();
  // All the killed instance wrote is there now; whatever its partitions gain from here on,
  // the survivors wrote.
  auto records_on_moved = [&](std::chrono::milliseconds wait) {
    auto out = testkit::consume(bootstrap, w.output, SIZE_MAX, wait);
    return static_cast<size_t>(std::count_if(out.begin(), out.end(), [&](auto& r) {
      return moved.count(r.partition) > 0;
    }));
  };
  auto before = records_on_moved(3s);

  ASSERT_TRUE(testkit::wait_for_split(*h, {all[0], all[2]}, w.source_partitions, 60s))
    << "the survivors never took the killed instance's partitions\n" << h->timeline()
    << h->log(all[0]) << h->log(all[2]);
  auto move_s = seconds_since(killed_at);
  const size_t fed_at_move = fed;
  EXPECT_LT(fed_at_move, before_restart) << "the partitions moved after the events stopped\n"
                                         << h->timeline();
  // Exactly-once: visible only once the dead instance's open transaction timed out.
  size_t after = before;
  for (deadline = std::chrono::steady_clock::now() + 60s;
       after <= before && std::chrono::steady_clock::now() < deadline;)
    after = records_on_moved(2s);
  EXPECT_GT(after, before) << "the survivors did not process the moved partitions\n"
                           << h->timeline();
  auto go_on_s = seconds_since(killed_at);
  const size_t fed_when_readable = fed;
  h->note("new outputs on the moved partitions readable");

  feeder.join();
  auto restarted_at = std::chrono::steady_clock::now();
  h->restart(victim); // its own store again
  feeder = feed_in_background(w, before_restart, w.events.size(), 1000, 250ms, fed);
  EXPECT_TRUE(testkit::wait_for_split(*h, all, w.source_partitions, 60s))
    << "the restarted instance got no share\n" << h->timeline();
  auto back_s = seconds_since(restarted_at);

  feeder.join();
  h->note("input fed");
  EXPECT_EQ(fed.load(), w.events.size());
  wait_until_outputs_complete(w);
  h->note("outputs complete");
  // Nothing is left to process: what the restarted instance did is final.
  auto restarted_events = metric_of(*h, victim, "mephisto_events_total");
  for (auto i : all)
    EXPECT_EQ(h->stop(i), 0) << h->timeline() << h->log(i);
  EXPECT_GT(restarted_events, 0u) << "the restarted instance did no work\n" << h->timeline()
                                  << h->log(victim);
  auto result = expect_final_counts(w, guarantee == "exactly_once");
  if (HasFailure())
    std::printf("%s", h->timeline().c_str());
  std::printf("[ summary  ] %s: %zu events, 1 kill (at event %zu), %zu lost, %zu duplicated "
              "outputs%s, %zu keys counted past the truth; the killed instance's %zu "
              "partitions moved %.1f s after the kill -9 (at event %zu), new outputs on them "
              "readable after %.1f s (at event %zu); the restarted instance got a share "
              "%.1f s after its start and processed %llu events\n",
              scenario.c_str(), w.events.size(), fed_at_kill, result.lost(),
              result.duplicated(), result.aborted.c_str(), result.keys_past_truth,
              moved.size(), move_s, fed_at_move, go_on_s, fed_when_readable, back_s,
              static_cast<unsigned long long>(restarted_events));
}

} // namespace kafka_suite
