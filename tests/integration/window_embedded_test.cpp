// The windowed test app (window_app.cpp) on the embedded broker, at-least-once: a worker
// stopped cleanly and restarted mid-window, then killed -9 and restarted, while events
// flow. Every window of the events must then have a final result equal to the count
// computed here (at-least-once: repeats allowed, each one the same count).

#include <chrono>
#include <cstdio>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "mephisto/testing.hpp"
#include "support/http_client.hpp"
#include "support/window_checks.hpp"

using namespace std::chrono_literals;
namespace mt = mephisto::testing;

TEST(window_embedded, final_results_survive_a_restart_and_a_kill_9_mid_window) {
  auto dir = mt::temp_dir("window-embedded");
  auto broker = mt::kafka_broker::embedded(WINDOW_BIN, dir + "/broker",
                                           {"--topic_partitions", "4"});
  mt::harness h{{.binary = WINDOW_BIN, .broker = broker->url(), .dir = dir,
                 .worker_args = {"--topic_partitions", "4", "--commit_interval_ms", "200",
                                 "--batch_size", "200"},
                 .seed = 52}};
  auto stream = testkit::make_window_events(20'000, 50, 52);
  auto part = [&](size_t from, size_t to) {
    std::vector<mt::input_record> out;
    for (size_t i = from; i < to; ++i)
      out.emplace_back(stream.events[i].first, stream.events[i].second);
    return out;
  };
  int w = h.start();
  ASSERT_TRUE(h.wait_ready(w, 60s)) << h.timeline() << h.log(w);
  mt::produce(broker->bootstrap(), "events", part(0, 7000));
  std::this_thread::sleep_for(h.between(300ms, 1000ms));
  EXPECT_EQ(h.stop(w), 0) << h.log(w);
  h.restart(w);
  ASSERT_TRUE(h.wait_ready(w, 60s)) << h.timeline() << h.log(w);
  mt::produce(broker->bootstrap(), "events", part(7000, 14000));
  std::this_thread::sleep_for(h.between(300ms, 1000ms));
  h.kill(w);
  h.restart(w);
  ASSERT_TRUE(h.wait_ready(w, 60s)) << h.timeline() << h.log(w);
  mt::produce(broker->bootstrap(), "events", part(14000, stream.events.size()));
  std::vector<mt::input_record> closers;
  for (auto& [key, at] : stream.closers)
    closers.emplace_back(key, at);
  mt::produce(broker->bootstrap(), "events", closers);
  testkit::window_verdict v;
  auto deadline = std::chrono::steady_clock::now() + 90s;
  do {
    v = testkit::judge_finals(mt::consume(broker->bootstrap(), "window-finals", SIZE_MAX, 3s),
                              stream.truth);
  } while (v.missing > 0 && std::chrono::steady_clock::now() < deadline);
  // The windowed table looked up by key through the web view: a closer's window is open.
  auto looked_up = testkit::http_get(h.web_address(w), "/tables/window-counts/closer-7");
  EXPECT_EQ(looked_up.status, 200) << looked_up.body;
  if (looked_up.status == 200) {
    auto answer = boost::json::parse(looked_up.body);
    auto& windows = answer.at("value").as_array();
    ASSERT_EQ(windows.size(), 1u) << looked_up.body;
    EXPECT_EQ(windows[0].at("start").as_int64(), testkit::window_base_ms + 100'000'000);
    EXPECT_EQ(windows[0].at("end").as_int64(), testkit::window_base_ms + 100'001'000);
    EXPECT_EQ(windows[0].at("value").as_int64(), 1);
  }
  EXPECT_EQ(h.stop(w), 0) << h.log(w);
  EXPECT_EQ(v.missing, 0u) << h.timeline();
  EXPECT_EQ(v.wrong, 0u) << h.timeline();
  EXPECT_EQ(v.unexpected, 0u) << h.timeline();
  std::printf("[ summary  ] windowed at-least-once, a restart and a kill -9 mid-window: %zu "
              "windows, %zu missing, %zu wrong, %zu repeated final results\n%s",
              v.windows, v.missing, v.wrong, v.duplicated, h.timeline().c_str());
}
