// Windowed stream–stream joins (`app::join`): inner and left, against the pairs a brute
// force over the records computes here; records arriving in any order across the two
// topics; a late record; topics of different partition counts refused.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mephisto/testing.hpp"

using namespace mephisto;
using namespace std::chrono_literals;
namespace mt = mephisto::testing;

namespace {

constexpr int64_t t0 = 1704067200000;

/// Clicks (left) joined with impressions (right) of the same ad within 10 s; every result
/// goes to `joined` as "<click>+<impression>", "<click>+none" for a left join's miss.
struct ads_app {
  app a{"ads"};
  topic<std::string, std::string> clicks = a.topic<std::string>("clicks");
  topic<std::string, std::string> impressions = a.topic<std::string>("impressions");
  topic<std::string, std::string> joined = a.topic<std::string>("joined");

  explicit ads_app(join_kind kind, std::chrono::milliseconds grace = 1h) {
    a.join("clicks_impressions", clicks, impressions, 10s,
           [out = joined](const std::string& ad, const std::string& click,
                          const std::string* impression, context& ctx) {
             ctx.send(out, ad, click + "+" + (impression ? *impression : "none"));
           },
           {.kind = kind, .grace = grace});
  }
};

struct event {
  std::string ad;
  std::string name;
  int64_t ts;
};

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

/// Random clicks and impressions of 5 ads over 5 minutes, and what joins them.
void random_events(std::vector<event>& clicks, std::vector<event>& impressions, uint32_t seed) {
  std::mt19937 gen{seed};
  std::uniform_int_distribution<int> ad{0, 4};
  std::uniform_int_distribution<int64_t> at{0, 300000};
  for (int i = 0; i < 150; ++i)
    clicks.push_back({"ad" + std::to_string(ad(gen)), "c" + std::to_string(i), t0 + at(gen)});
  for (int i = 0; i < 150; ++i)
    impressions.push_back({"ad" + std::to_string(ad(gen)), "i" + std::to_string(i), t0 + at(gen)});
}

std::vector<std::string> brute_force(const std::vector<event>& clicks,
                                     const std::vector<event>& impressions, bool left) {
  std::vector<std::string> out;
  for (auto& c : clicks) {
    bool matched = false;
    for (auto& i : impressions)
      if (c.ad == i.ad && std::abs(c.ts - i.ts) <= 10000) {
        out.push_back(c.name + "+" + i.name);
        matched = true;
      }
    if (left && !matched)
      out.push_back(c.name + "+none");
  }
  return sorted(out);
}

void run_random(join_kind kind, uint32_t seed) {
  ads_app app{kind};
  mt::driver d{app.a};
  std::vector<event> clicks;
  std::vector<event> impressions;
  random_events(clicks, impressions, seed);
  // Each topic in random time order, the two interleaved in no particular order.
  for (auto& c : clicks)
    d.pipe(app.clicks, c.ad, c.name, c.ts);
  for (auto& i : impressions)
    d.pipe(app.impressions, i.ad, i.name, i.ts);
  d.run();
  // Far later: closes every bucket (a left join's misses come out then).
  d.pipe(app.clicks, std::string{"other"}, std::string{"closer"}, t0 + 100'000'000);
  std::vector<std::string> got;
  for (auto& r : d.read(app.joined))
    if (r.key != "other")
      got.push_back(r.value);
  auto truth = brute_force(clicks, impressions, kind == join_kind::left);
  ASSERT_GT(truth.size(), 20u) << "the random input must have matches";
  EXPECT_EQ(sorted(got), truth);
  EXPECT_EQ(d.stats().late_events.load(), 0u);
}

} // namespace

TEST(stream_join, inner_join_emits_every_pair_within_the_window_once) {
  run_random(join_kind::inner, 7);
}

TEST(stream_join, left_join_adds_each_click_without_an_impression_once) {
  run_random(join_kind::left, 8);
}

TEST(stream_join, a_record_behind_the_clock_by_more_than_its_bucket_allows_is_late) {
  ads_app app{join_kind::inner, 0s};
  mt::driver d{app.a};
  d.pipe(app.impressions, std::string{"ad1"}, std::string{"i1"}, t0 + 5000);
  d.run();
  d.pipe(app.clicks, std::string{"ad2"}, std::string{"c-later"}, t0 + 60000); // clock +60 s
  d.run();
  d.pipe(app.clicks, std::string{"ad1"}, std::string{"c-late"}, t0 + 6000);
  d.run();
  EXPECT_TRUE(d.read(app.joined).empty()) << "a late click joins nothing";
  EXPECT_EQ(d.stats().late_events.load(), 1u);
}

TEST(stream_join, topics_of_different_partition_counts_are_refused_naming_both) {
  ads_app app{join_kind::inner};
  mt::driver_options opts;
  opts.topic_partitions = {{"clicks", 4}, {"impressions", 6}};
  try {
    mt::driver d{app.a, opts};
    FAIL() << "the join started";
  } catch (const std::invalid_argument& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("clicks (4 partitions)"), std::string::npos) << what;
    EXPECT_NE(what.find("impressions (6 partitions)"), std::string::npos) << what;
  }
}
