// The public test kit's harness on an embedded broker (the colors app's `broker` command in
// a process of its own, no Java): an at-least-once colors worker that fails at an offset,
// crashes at another, runs a partition slowly and is killed -9 and restarted while words
// flow (nothing may be lost); two instances whose cluster link is cut and restored; and
// instances run in the test's own process. The harness's timeline is printed.

#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "colors_app.hpp"
#include "support/http_client.hpp"
#include "mephisto/testing.hpp"

using namespace std::chrono_literals;
namespace mt = mephisto::testing;

namespace {

/// `n` words, half of them colors, without keys, and how often each color occurs.
std::pair<std::vector<mt::input_record>, std::map<std::string, int64_t>> make_words(int n) {
  static const char* vocabulary[] = {"red", "cat", "green", "dog", "blue", "owl"};
  std::vector<mt::input_record> words;
  std::map<std::string, int64_t> truth;
  for (int i = 0; i < n; ++i) {
    std::string w = vocabulary[(i * 5 + i / 6) % 6];
    if (w == "red" || w == "green" || w == "blue")
      ++truth[w];
    words.emplace_back(std::nullopt, w);
  }
  return {words, truth};
}

} // namespace

TEST(harness_embedded, at_least_once_colors_lose_nothing_through_injected_faults_and_a_kill_9) {
  auto dir = mt::temp_dir("harness-embedded");
  auto broker = mt::kafka_broker::embedded(COLORS_BIN, dir + "/broker", {"--topic_partitions", "4"});
  mt::harness h{{.binary = COLORS_BIN, .broker = broker->url(), .dir = dir,
                 .worker_args = {"--topic_partitions", "4", "--commit_interval_ms", "200",
                                 "--batch_size", "100"},
                 .seed = 21}};
  auto [words, truth] = make_words(12'000);
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

namespace {

/// The words red×3, green×2, blue×1, without keys.
std::vector<mt::input_record> some_colors() {
  std::vector<mt::input_record> words;
  for (auto w : {"red", "green", "blue", "red", "green", "red"})
    words.emplace_back(std::nullopt, w);
  return words;
}

/// The HTTP status of a lookup of `color` at instance `i` (routed to the key's owner).
int lookup_status(const mt::harness& h, int i, const std::string& color) {
  return testkit::http_get(h.web_address(i), "/tables/colors-count/" + color).status;
}

template <class Pred>
bool within(std::chrono::milliseconds timeout, Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

} // namespace

TEST(harness_embedded, a_cut_cluster_link_leaves_each_instance_only_its_own_keys_until_restored) {
  auto dir = mt::temp_dir("harness-cut-link");
  auto broker = mt::kafka_broker::embedded(COLORS_BIN, dir + "/broker", {"--topic_partitions", "4"});
  mt::harness h{{.binary = COLORS_BIN, .broker = broker->url(), .dir = dir,
                 .worker_args = {"--topic_partitions", "4", "--cluster_heartbeat_ms", "200",
                                 "--cluster_timeout_ms", "1000"},
                 .seed = 22}};
  int a = h.start();
  int b = h.start();
  ASSERT_TRUE(h.wait_ready(a, 60s) && h.wait_ready(b, 60s)) << h.timeline() << h.log(a) << h.log(b);
  mt::produce(broker->bootstrap(), "input", some_colors());
  const std::vector<std::string> colors{"red", "green", "blue"};
  // Linked: either instance answers every color, from itself or from the owner.
  auto everyone_answers = [&] {
    for (auto& c : colors)
      for (int i : {a, b})
        if (lookup_status(h, i, c) != 200)
          return false;
    return true;
  };
  ASSERT_TRUE(within(60s, everyone_answers)) << h.timeline() << h.log(a) << h.log(b);
  h.cut_link(a, b);
  // Cut: each instance answers the colors it holds (200) and not the other's (503).
  std::string last;
  auto split = [&] {
    last.clear();
    bool ok = true;
    for (auto& c : colors) {
      auto at_a = lookup_status(h, a, c);
      auto at_b = lookup_status(h, b, c);
      last += c + ": " + std::to_string(at_a) + "/" + std::to_string(at_b) + " ";
      ok = ok && ((at_a == 200 && at_b == 503) || (at_a == 503 && at_b == 200));
    }
    return ok;
  };
  EXPECT_TRUE(within(30s, split)) << "last statuses (a/b): " << last << "\n" << h.timeline();
  h.note("split seen: " + last);
  h.restore_link(a, b);
  EXPECT_TRUE(within(30s, everyone_answers)) << h.timeline() << h.log(a) << h.log(b);
  h.note("both answer every color again");
  EXPECT_EQ(h.stop(a), 0) << h.log(a);
  EXPECT_EQ(h.stop(b), 0) << h.log(b);
  std::printf("[ summary  ] cut cluster link: lookups split by owner (%s), whole again once "
              "restored\n%s", last.c_str(), h.timeline().c_str());
}

TEST(harness_embedded, in_process_instances_lose_nothing_through_a_failure_and_a_restart) {
  mephisto::app app{"colors"};
  colors::declare(app);
  auto dir = mt::temp_dir("harness-in-process");
  auto broker = mt::kafka_broker::embedded(COLORS_BIN, dir + "/broker", {"--topic_partitions", "4"});
  mt::harness h{{.in_process = &app, .broker = broker->url(), .dir = dir,
                 .worker_args = {"--topic_partitions", "4", "--commit_interval_ms", "200",
                                 "--batch_size", "100"},
                 .seed = 23}};
  auto [words, truth] = make_words(8'000);
  // Every partition of input fails once in instance a, wherever the group puts it.
  std::vector<std::string> failures;
  for (int p = 0; p < 4; ++p)
    failures.push_back(mt::faults::fail_at("input", p, 200));
  int a = h.start(failures);
  int b = h.start();
  ASSERT_TRUE(h.wait_ready(a, 60s) && h.wait_ready(b, 60s)) << h.timeline() << h.log(a) << h.log(b);
  EXPECT_THROW(h.kill(a), std::logic_error); // no kill -9 in-process
  mt::produce(broker->bootstrap(), "input", {words.begin(), words.begin() + 4000});
  std::this_thread::sleep_for(h.between(300ms, 1000ms));
  EXPECT_EQ(h.stop(b), 0) << h.log(b);
  EXPECT_FALSE(h.running(b));
  h.restart(b);
  ASSERT_TRUE(h.wait_ready(b, 60s)) << h.timeline() << h.log(b);
  mt::produce(broker->bootstrap(), "input", {words.begin() + 4000, words.end()});
  mt::check_result r;
  auto deadline = std::chrono::steady_clock::now() + 90s;
  do {
    r = mt::check_at_least_once(mt::consume(broker->bootstrap(), "output", SIZE_MAX, 3s), truth);
  } while (!r && std::chrono::steady_clock::now() < deadline);
  EXPECT_TRUE(r) << r.message() << "\n" << h.timeline();
  auto restarts = h.metric(a, "mephisto_restarts_total");
  EXPECT_EQ(h.stop(a), 0) << h.log(a);
  EXPECT_EQ(h.stop(b), 0) << h.log(b);
  // a held partitions of input from the start (4 over 2 instances): one of them failed.
  ASSERT_TRUE(restarts) << h.timeline();
  EXPECT_GE(*restarts, 1) << h.timeline();
  std::printf("[ summary  ] two in-process instances, fail@ and a stop/restart: %s; %.0f "
              "restarts\n%s", r.message().c_str(), *restarts, h.timeline().c_str());
}
