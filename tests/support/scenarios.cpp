#include "scenarios.hpp"

#include <csignal>
#include <regex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace testkit {

void restart_mid_stream(const std::string& bootstrap, const worker_factory& worker,
                        size_t n, uint32_t seed, size_t stop_after) {
  auto words = make_words(n, seed);
  auto w1 = worker("w1");
  ASSERT_TRUE(w1->wait_for_log("assigned: ", 60s)) << w1->log();
  std::thread feeder{[&] {
    for (size_t i = 0; i < words.words.size(); i += 1000) {
      std::vector<std::string> chunk(words.words.begin() + i, words.words.begin() + i + 1000);
      produce(bootstrap, "input", chunk);
      std::this_thread::sleep_for(20ms);
    }
  }};
  auto partial = consume(bootstrap, "output", stop_after, 60s);
  w1->signal(SIGTERM);
  auto rc = w1->wait(60s);
  auto early = consume(bootstrap, "output", words.color_words, 2s);
  auto w2 = worker("w2");
  feeder.join();
  EXPECT_EQ(rc, 0) << w1->log();
  EXPECT_GE(partial.size(), stop_after);
  EXPECT_LT(early.size(), words.color_words) << "the first worker was not stopped mid-stream";
  auto out = consume(bootstrap, "output", words.color_words, 120s);
  expect_exact_running_counts(out, words.colors);
  EXPECT_TRUE(std::regex_search(w2->log(), std::regex{"recovered: [1-9][0-9]* changelog records"}))
    << "the second worker must rebuild the table from the changelog\n" << w2->log();
  w2->signal(SIGTERM);
  EXPECT_EQ(w2->wait(60s), 0) << w2->log();
}

void two_workers_split(const std::string& bootstrap, const worker_factory& worker, size_t n,
                       uint32_t seed) {
  auto w1 = worker("w1");
  ASSERT_TRUE(w1->wait_for_log("assigned: ", 60s)) << w1->log();
  auto w2 = worker("w2");
  // w1 gives up half of its partitions (cooperative: only those; eager: all, then it gets
  // a smaller assignment); w2 gets them.
  ASSERT_TRUE(w2->wait_for_log("assigned: ", 60s)) << w2->log();
  ASSERT_TRUE(w1->wait_for_log("revoked: ", 60s)) << w1->log();
  auto words = make_words(n, seed);
  produce(bootstrap, "input", words.words);
  auto out = consume(bootstrap, "output", words.color_words, 120s);
  expect_exact_running_counts(out, words.colors);
  w1->signal(SIGTERM);
  w2->signal(SIGTERM);
  EXPECT_EQ(w1->wait(60s), 0) << w1->log();
  EXPECT_EQ(w2->wait(60s), 0) << w2->log();
  for (auto* w : {w1.get(), w2.get()}) {
    auto log = w->log();
    auto pos = log.find("stopped: ");
    ASSERT_NE(pos, std::string::npos) << log;
    EXPECT_EQ(log.find("stopped: 0 events", pos), std::string::npos) << "idle worker\n" << log;
  }
}

} // namespace testkit
