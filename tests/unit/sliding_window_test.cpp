// Sliding windows (`sliding(size)`, Kafka Streams' SlidingWindows): windows `[start, start +
// size]` with both ends included, one for every distinct set of events that fit in `size`.
// Events out of order within grace, several keys, in the test driver; the truth is computed
// here by brute force from the definition: each event t has its left window [t - size, t],
// and its right window [t + 1, t + 1 + size] when some event falls in it.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "mephisto/testing.hpp"
#include "unit/restored_store.hpp"
#include "unit/window_support.hpp"

using namespace mephisto;
using namespace window_support;
using namespace std::chrono_literals;
namespace mt = mephisto::testing;

namespace {

/// Every sliding window of `size` of `times` (one key) with its count, by definition.
std::map<std::pair<int64_t, int64_t>, int64_t> truth_of(const std::vector<int64_t>& times,
                                                       int64_t size) {
  std::map<std::pair<int64_t, int64_t>, int64_t> out;
  auto count = [&](int64_t s) {
    return static_cast<int64_t>(
      std::count_if(times.begin(), times.end(), [&](int64_t t) { return t >= s && t <= s + size; }));
  };
  for (auto t : times) {
    out[{t - size, t}] = count(t - size);
    if (auto n = count(t + 1); n > 0)
      out[{t + 1, t + 1 + size}] = n;
  }
  return out;
}

} // namespace

TEST(sliding_windows, each_event_has_a_left_window_and_a_right_one_once_a_later_event_falls_in_it) {
  // Events at 8, 9.2 and 12.4 s (size 5 s): left windows [3, 8] (one event), [4.2, 9.2]
  // (two), [7.4, 12.4] (all three); right windows [8.001, 13.001] (9.2 and 12.4) and
  // [9.201, 14.201] (12.4); none right of 12.4.
  counting_app s{sliding(5s), {.grace = 30s}};
  mt::driver d{s.a};
  for (auto ms : {8000, 9200, 12400})
    d.pipe(s.events, std::string{"k"}, std::string{"e"}, t0 + ms, 0);
  d.run();
  auto held = d.windows(s.counts);
  std::map<std::pair<int64_t, int64_t>, int64_t> got;
  for (auto& [kw, n] : held)
    got[{kw.second.start - t0, kw.second.end - t0}] = n;
  std::map<std::pair<int64_t, int64_t>, int64_t> expected{
    {{3000, 8000}, 1}, {{4200, 9200}, 2}, {{7400, 12400}, 3},
    {{8001, 13001}, 2}, {{9201, 14201}, 1}};
  EXPECT_EQ(got, expected);
}

TEST(sliding_windows, out_of_order_events_give_every_window_of_the_definition_once) {
  counting_app s{sliding(10s), {.grace = 120s}};
  mt::driver d{s.a};
  std::mt19937 rng{7};
  std::map<std::string, std::vector<int64_t>> times;
  int64_t clock = 0;
  for (int i = 0; i < 600; ++i) {
    auto key = "k" + std::to_string(rng() % 5);
    // Mostly forward, sometimes up to 60 s back (within grace), duplicates possible.
    clock += static_cast<int64_t>(rng() % 3000);
    auto t = clock - (rng() % 4 == 0 ? static_cast<int64_t>(rng() % 60000) : 0);
    t = std::max<int64_t>(t, 0);
    times[key].push_back(t);
    d.pipe(s.events, key, std::string{"e"}, t0 + t, 0);
    if (i % 50 == 49)
      d.run(); // batches of every size
  }
  // Far later on another key: every window of the keys above closes.
  d.pipe(s.events, std::string{"zz"}, std::string{"e"}, t0 + clock + 10000000, 0);
  d.run();
  std::vector<final_result> expected;
  for (auto& [key, ts] : times)
    for (auto& [w, n] : truth_of(ts, 10000))
      expected.emplace_back(key, t0 + w.first, t0 + w.second, n);
  std::sort(expected.begin(), expected.end());
  auto got = finals_of(d, s.finals);
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_EQ(got, expected);
  EXPECT_EQ(d.stats().late_events.load(), 0u);
}

TEST(sliding_windows, a_late_event_is_counted_and_closed_windows_are_final) {
  counting_app s{sliding(10s), {.grace = 0ms, .dead_letter_late = true}};
  mt::driver d{s.a};
  d.pipe(s.events, std::string{"k"}, std::string{"e"}, t0 + 1000, 0);
  d.pipe(s.events, std::string{"k"}, std::string{"e"}, t0 + 30000, 0); // closes [.., 1 s]
  d.pipe(s.events, std::string{"k"}, std::string{"e"}, t0 + 500, 0);   // late: all closed
  d.run();
  EXPECT_EQ(d.stats().late_events.load(), 1u);
  ASSERT_EQ(d.dead_letters().size(), 1u);
  EXPECT_EQ(finals_of(d, s.finals),
            (std::vector<final_result>{{"k", t0 - 9000, t0 + 1000, 1}}));
}

TEST(sliding_windows, a_store_restored_from_its_changelog_goes_on_with_the_same_windows) {
  // Restart mid-window: the driver's store goes on, a copy is rebuilt from its changelog.
  counting_app s{sliding(10s), {.grace = 60s}};
  mt::driver d{s.a};
  for (auto ms : {1000, 4000, 12000, 13000})
    d.pipe(s.events, std::string{"k"}, std::string{"e"}, t0 + ms, 0);
  d.run();
  auto before = d.windows(s.counts);
  auto store = unit_support::restored_store(s.a, s.counts.index(), d.changelog("counts"));
  auto* restored = static_cast<windowed_store<std::string, int64_t>*>(store.get());
  // The next event at 15 s, applied to the restored store: it must seed its new windows
  // from the restored ones exactly as the live store does.
  auto next = [](windowed_store<std::string, int64_t>& w) {
    w.begin_event();
    w.update(std::string{"k"}, t0 + 15000, [](int64_t& n) { ++n; });
  };
  next(*restored);
  d.pipe(s.events, std::string{"k"}, std::string{"e"}, t0 + 15000, 0);
  d.run();
  auto after = d.windows(s.counts);
  EXPECT_NE(before, after);
  for (auto& [kw, n] : after) {
    auto got = restored->range(kw.first, kw.second.start, kw.second.start);
    ASSERT_EQ(got.size(), 1u) << kw.second.start;
    EXPECT_EQ(got[0].first, kw.second);
    EXPECT_EQ(got[0].second, n) << kw.second.start - t0;
  }
  EXPECT_EQ(restored->size(), after.size());
}
