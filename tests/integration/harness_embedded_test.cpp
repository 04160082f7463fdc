// The public test kit's harness on an embedded broker (the colors app's `broker` command in
// a process of its own, no Java): an at-least-once colors worker that fails at an offset,
// crashes at another, runs a partition slowly and is killed -9 and restarted while words
// flow. Nothing may be lost; the harness's timeline is printed.

#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "mephisto/testing.hpp"

using namespace std::chrono_literals;
namespace mt = mephisto::testing;

TEST(harness_embedded, at_least_once_colors_lose_nothing_through_injected_faults_and_a_kill_9) {
  auto dir = mt::temp_dir("harness-embedded");
  auto broker = mt::kafka_broker::embedded(COLORS_BIN, dir + "/broker", {"--topic_partitions", "4"});
  mt::harness h{{.binary = COLORS_BIN, .broker = broker->url(), .dir = dir,
                 .worker_args = {"--topic_partitions", "4", "--commit_interval_ms", "200",
                                 "--batch_size", "100"},
                 .seed = 21}};
  static const char* vocabulary[] = {"red", "cat", "green", "dog", "blue", "owl"};
  std::vector<mt::input_record> words;
  std::map<std::string, int64_t> truth;
  for (int i = 0; i < 12'000; ++i) {
    std::string w = vocabulary[(i * 5 + i / 6) % 6];
    if (w == "red" || w == "green" || w == "blue")
      ++truth[w];
    words.emplace_back(std::nullopt, w);
  }
  int w = h.start({mt::faults::fail_at("input", 1, 300), mt::faults::crash_at("input", 2, 600),
                   mt::faults::slow("input", 3, 2ms)});
  ASSERT_TRUE(h.wait_ready(w, 60s)) << h.timeline() << h.log(w);
  mt::produce(broker->bootstrap(), "input", {words.begin(), words.begin() + 6000});
  std::this_thread::sleep_for(h.between(500ms, 1500ms));
  auto restarts = h.metric(w, "mephisto_restarts_total");
  h.kill(w);
  h.restart(w);
  ASSERT_TRUE(h.wait_ready(w, 60s)) << h.timeline() << h.log(w);
  mt::produce(broker->bootstrap(), "input", {words.begin() + 6000, words.end()});
  // Everything processed: every running count 1..n of every color is there.
  mt::check_result r;
  auto deadline = std::chrono::steady_clock::now() + 90s;
  do {
    r = mt::check_at_least_once(mt::consume(broker->bootstrap(), "output", SIZE_MAX, 3s), truth);
  } while (!r && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(h.stop(w), 0) << h.log(w);
  EXPECT_TRUE(r) << r.message() << "\n" << h.timeline();
  // Both injected failures restarted a partition before the kill.
  ASSERT_TRUE(restarts) << h.timeline();
  EXPECT_GE(*restarts, 2) << h.timeline();
  std::printf("[ summary  ] harness on the embedded broker, fail@, crash@, slow@ and a kill -9: "
              "%s; %.0f restarts before the kill\n%s",
              r.message().c_str(), *restarts, h.timeline().c_str());
}
