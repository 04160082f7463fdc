// Timers (`app::timer`, on the leader partition) and per-partition punctuators
// (`agent_options::punctuators`, on the wall clock or stream time, with table access), in
// the test driver whose wall clock moves only when the test moves it.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
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
} // namespace

TEST(timer, runs_every_interval_of_the_wall_clock_and_a_failing_run_is_dropped) {
  app a{"timers"};
  auto ticks = a.topic<std::string, int64_t>("ticks");
  auto runs = std::make_shared<int64_t>(0);
  a.timer(10s, [=](context& ctx) {
    auto n = ++*runs;
    ctx.send(ticks, "tick", n);
    if (n == 2)
      throw std::runtime_error("the second run fails"); // its send is dropped
  });
  mt::driver_options opts;
  opts.start_time_ms = t0;
  mt::driver d{a, opts};
  for (int i = 0; i < 9; ++i)
    d.advance_wall_clock(5s); // t0 + 45 s: due at 10, 20, 30 and 40 s
  auto out = d.read(ticks);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].value, 1);
  EXPECT_EQ(out[1].value, 3);
  EXPECT_EQ(out[2].value, 4);
  EXPECT_EQ(out[0].timestamp, t0 + 10000) << "a timer's sends carry its time";
  EXPECT_EQ(out[2].timestamp, t0 + 40000);
  EXPECT_EQ(*runs, 4);
  EXPECT_EQ(d.stats().failures.load(), 1u);
  EXPECT_EQ(d.partitions("leader"), 1) << "timers run on the one leader partition";
}

TEST(timer, timers_on_every_instance_are_refused_for_now) {
  app a{"timers"};
  EXPECT_THROW(a.timer(1s, [](context&) {}, {.on_leader = false}), std::invalid_argument);
  EXPECT_THROW(a.timer(0s, [](context&) {}), std::invalid_argument);
}

TEST(punctuator, runs_per_partition_on_stream_time_with_the_partitions_table) {
  app a{"punctuate"};
  auto events = a.topic<std::string>("events");
  auto sizes = a.topic<int32_t, int64_t>("sizes"); // partition -> keys its table holds
  auto seen = a.table<std::string, int64_t>("seen");
  a.agent("count", events,
          [=](const std::string& key, const std::string&, context& ctx) { ++ctx[seen][key]; },
          {.tables = {seen},
           .punctuators = {{.every = 60s,
                            .time = punctuation_time::stream_time,
                            .fn = [=](context& ctx) {
                              ctx.send_to_partition(sizes, ctx.partition(), ctx.partition(),
                                                    static_cast<int64_t>(ctx[seen].size()));
                            }}}});
  mt::driver_options opts;
  opts.partitions = 2;
  mt::driver d{a, opts};
  // Partition 0: events over 130 s of stream time; partition 1: over 30 s only.
  for (int s = 0; s <= 130; s += 10)
    d.pipe(events, "k" + std::to_string(s), std::string{"x"}, t0 + s * 1000, 0);
  d.run();
  for (int s = 0; s <= 30; s += 10)
    d.pipe(events, "k" + std::to_string(s), std::string{"x"}, t0 + s * 1000, 1);
  d.run();
  d.pipe(events, std::string{"late"}, std::string{"x"}, t0 + 200000, 0);
  d.run();
  std::vector<int64_t> p0;
  std::vector<int64_t> p1;
  for (auto& r : d.read(sizes))
    (r.key == 0 ? p0 : p1).push_back(r.value);
  // Partition 0's stream time: 130 s in its first batch (the count starts at 0 s: due at
  // 60 s, run once per batch, 14 keys), then 200 s (15 keys); partition 1 never reaches 60 s.
  EXPECT_EQ(p0, (std::vector<int64_t>{14, 15}));
  EXPECT_TRUE(p1.empty());
}
