#include "scenarios.hpp"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "shares.hpp"

namespace testkit {

void restart_mid_stream(const std::string& bootstrap, mephisto::testing::harness& h,
                        size_t n, uint32_t seed, size_t stop_after) {
  auto words = make_words(n, seed);
  int w1 = h.start();
  ASSERT_TRUE(h.wait_ready(w1, 60s)) << h.timeline() << h.log(w1);
  std::thread feeder{[&] {
    for (size_t i = 0; i < words.words.size(); i += 1000) {
      std::vector<std::string> chunk(words.words.begin() + i, words.words.begin() + i + 1000);
      produce(bootstrap, "input", chunk);
      std::this_thread::sleep_for(20ms);
    }
  }};
  auto partial = consume(bootstrap, "output", stop_after, 60s);
  h.note(std::to_string(partial.size()) + " outputs read");
  auto rc = h.stop(w1);
  auto early = consume(bootstrap, "output", words.color_words, 2s);
  int w2 = h.start();
  feeder.join();
  h.note("input fed");
  EXPECT_EQ(rc, 0) << h.timeline() << h.log(w1);
  EXPECT_GE(partial.size(), stop_after);
  EXPECT_LT(early.size(), words.color_words) << "the first worker was not stopped mid-stream\n"
                                             << h.timeline();
  auto out = consume(bootstrap, "output", words.color_words, 120s);
  expect_exact_running_counts(out, words.colors);
  auto restored = h.metric(w2, "mephisto_restored_records_total");
  EXPECT_GT(restored.value_or(0), 0)
    << "the second worker must rebuild the table from the changelog\n" << h.timeline()
    << h.log(w2);
  EXPECT_EQ(h.stop(w2), 0) << h.timeline() << h.log(w2);
}

void two_workers_split(const std::string& bootstrap, mephisto::testing::harness& h, size_t n,
                       uint32_t seed) {
  int w1 = h.start();
  ASSERT_TRUE(h.wait_ready(w1, 60s)) << h.timeline() << h.log(w1);
  const auto partitions = static_cast<size_t>(h.metric(w1, "mephisto_assigned_partitions")
                                                .value_or(0));
  int w2 = h.start();
  // w1 gives up half of its partitions (cooperative: only those; eager: all, then it gets
  // a smaller assignment); w2 gets them.
  ASSERT_TRUE(wait_for_split(h, {w1, w2}, partitions, 60s))
    << h.timeline() << h.log(w1) << h.log(w2);
  auto words = make_words(n, seed);
  produce(bootstrap, "input", words.words);
  auto out = consume(bootstrap, "output", words.color_words, 120s);
  expect_exact_running_counts(out, words.colors);
  // Both did part of the work (read before the stop: nothing is left to process).
  for (auto w : {w1, w2}) {
    auto events = h.metric(w, "mephisto_events_total");
    EXPECT_GT(events.value_or(0), 0) << "idle worker " << w << "\n" << h.timeline() << h.log(w);
  }
  EXPECT_EQ(h.stop(w1), 0) << h.timeline() << h.log(w1);
  EXPECT_EQ(h.stop(w2), 0) << h.timeline() << h.log(w2);
}

} // namespace testkit
