#pragma once

// The app and the checks of the oversize tests (oversize_test.cpp on the embedded broker,
// kafka_oversize_test.cpp on the real one): per event (key, n) an agent sends n to `echo`,
// adds n to the table `totals` and then sends n bytes to `out`. Events whose n is larger
// than `out` takes must end in the dead-letter topic with the reason, their echo and table
// change dropped; every other event is processed.

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "mephisto/mephisto.hpp"
#include "mephisto/worker.hpp"
#include "support/testkit.hpp"

namespace oversize {

using namespace std::chrono_literals;

constexpr int64_t too_large = 50'000; ///< above the 20 000 bytes `out` takes in both tests
constexpr int64_t just_fits = 19'000;

struct topics {
  std::string input; ///< source topic: key -> size
  std::string out;   ///< takes 20 000 bytes (producer limit or topic config)
};

inline void declare(mephisto::app& app, const topics& t) {
  auto sizes = app.topic<std::string, int64_t>(t.input);
  auto out = app.topic<std::string, std::string>(t.out);
  auto echo = app.topic<std::string, int64_t>("echo", {.internal = true});
  auto totals = app.table<std::string, int64_t>("totals");
  app.agent(
    "grow", sizes,
    [=](const std::string& key, const int64_t& n, mephisto::context& ctx) {
      ctx.send(echo, key, n);       // dropped when `out` refuses the event's record
      ctx[totals][key] += n;        // undone then
      ctx.send(out, key, std::string(static_cast<size_t>(n), 'x'));
    },
    {.tables = {totals}});
}

/// 2000 events over 10 keys, all 100 bytes but three too large and one just fitting.
inline std::vector<std::pair<std::string, std::string>> events() {
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < 2000; ++i) {
    int64_t n = i == 7 || i == 500 || i == 1999 ? too_large : i == 800 ? just_fits : 100;
    out.emplace_back("k" + std::to_string(i % 10), std::to_string(n));
  }
  return out;
}

/// Reads everything back and checks it; `app_id` names the dead-letter topic.
inline void expect_dead_lettered_and_rest_processed(const std::string& bootstrap,
                                                    const topics& t, const std::string& app_id,
                                                    mephisto::worker& w) {
  auto sent = events();
  std::map<std::string, int64_t> totals;
  size_t fitting = 0;
  for (auto& [key, n] : sent)
    if (std::stoll(n) != too_large) {
      totals[key] += std::stoll(n);
      ++fitting;
    }
  auto out = testkit::consume(bootstrap, t.out, fitting, 90s);
  EXPECT_EQ(out.size(), fitting);
  size_t just = 0;
  for (auto& r : out) {
    EXPECT_LT(r.value.size(), static_cast<size_t>(too_large));
    just += r.value.size() == static_cast<size_t>(just_fits);
  }
  EXPECT_EQ(just, 1u) << "the record just under the limit went out";
  auto echo = testkit::consume(bootstrap, app_id + "-echo", fitting, 60s);
  EXPECT_EQ(echo.size(), fitting);
  for (auto& r : echo)
    EXPECT_NE(r.value, std::to_string(too_large)) << "an oversize event's other output";

  // The dead letters are exactly the input records that were too large.
  auto input = testkit::consume(bootstrap, t.input, sent.size(), 60s);
  ASSERT_EQ(input.size(), sent.size());
  std::set<std::pair<std::string, std::string>> expected_at, dead_at;
  for (auto& r : input)
    if (r.value == std::to_string(too_large))
      expected_at.emplace(std::to_string(r.partition), std::to_string(r.offset));
  ASSERT_EQ(expected_at.size(), 3u);
  auto dead = testkit::consume(bootstrap, app_id + "-dead-letter", 3, 60s);
  ASSERT_EQ(dead.size(), 3u);
  auto size_text = std::to_string(too_large + 2); // key "kN" + value
  for (auto& d : dead) {
    EXPECT_EQ(d.value, std::to_string(too_large));
    EXPECT_EQ(d.headers["mephisto.error.kind"], "record-too-large");
    EXPECT_EQ(d.headers["mephisto.topic"], t.input);
    EXPECT_EQ(d.headers["mephisto.agent"], "grow");
    EXPECT_EQ(d.headers["mephisto.attempts"], "1");
    auto& why = d.headers["mephisto.error"];
    EXPECT_NE(why.find("'" + t.out + "'"), std::string::npos) << why;
    EXPECT_NE(why.find(size_text + " bytes"), std::string::npos) << why;
    EXPECT_NE(why.find(std::to_string(20'000 - 100) + " bytes"), std::string::npos) << why;
    dead_at.emplace(d.headers["mephisto.partition"], d.headers["mephisto.offset"]);
  }
  EXPECT_EQ(dead_at, expected_at);

  ASSERT_TRUE(testkit::eventually([&] { return w.stats().events.load() >= sent.size(); }, 30s));
  EXPECT_EQ(w.stats().events.load(), sent.size());
  EXPECT_EQ(w.stats().dead_letters.load(), 3u);
  EXPECT_EQ(w.stats().failures.load(), 0u);
  EXPECT_EQ(w.stats().produce_errors.load(), 0u);
  EXPECT_EQ(w.stats().restarts.load(), 0) << "no partition failed";
  auto rows = w.table_snapshot("totals");
  ASSERT_TRUE(rows) << mephisto::render(rows.error());
  std::map<std::string, int64_t> table;
  for (auto& [k, v] : *rows)
    table[k] = std::stoll(v);
  EXPECT_EQ(table, totals) << "the oversize events' table changes were undone";
}

} // namespace oversize
