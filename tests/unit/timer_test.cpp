// Timers (`app::timer`, on the leader partition) and per-partition punctuators
// (`agent_options::punctuators`, on the wall clock or stream time, with table access), in
// the test driver whose wall clock moves only when the test moves it.

#include <chrono>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mephisto/crontab.hpp"
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

TEST(timer, a_timer_on_every_instance_runs_without_a_leader_partition) {
  app a{"timers"};
  auto ticks = a.topic<std::string, int64_t>("ticks");
  auto limits = a.topic<std::string, int64_t>("limits");
  auto limit = a.global_table("limits", limits);
  auto runs = std::make_shared<int64_t>(0);
  a.timer(
    10s,
    [=](context& ctx) {
      auto n = ++*runs;
      if (n == 2)
        throw std::runtime_error("the second run fails");
      ctx.send(ticks, "tick", n * ctx[limit].get_or("factor", 1)); // global tables readable
    },
    {.on_leader = false});
  EXPECT_THROW(a.timer(0s, [](context&) {}, {.on_leader = false}), std::invalid_argument);
  mt::driver_options opts;
  opts.start_time_ms = t0;
  mt::driver d{a, opts};
  d.pipe(limits, std::string{"factor"}, int64_t{100});
  for (int i = 0; i < 7; ++i)
    d.advance_wall_clock(5s); // t0 + 35 s: due at 10, 20 and 30 s
  auto out = d.read(ticks);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].value, 100);
  EXPECT_EQ(out[1].value, 300);
  EXPECT_EQ(out[0].timestamp, t0 + 10000) << "a timer's sends carry its time";
  EXPECT_EQ(out[1].timestamp, t0 + 30000);
  EXPECT_EQ(d.stats().failures.load(), 1u);
  EXPECT_THROW(d.partitions("leader"), std::invalid_argument) << "no leader topic needed";
}

TEST(timer, a_timer_needs_a_positive_interval) {
  app a{"timers"};
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

namespace {
/// ms since the epoch of a UTC time.
int64_t utc(int y, int mo, int d, int h, int mi) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}
} // namespace

TEST(crontab, parses_the_five_fields_and_finds_the_next_minute) {
  cron_schedule every5{"*/5 * * * *"};
  EXPECT_EQ(every5.next_after(utc(2024, 1, 1, 0, 0)), utc(2024, 1, 1, 0, 5));
  EXPECT_EQ(every5.next_after(utc(2024, 1, 1, 0, 4) + 59'999), utc(2024, 1, 1, 0, 5));
  EXPECT_EQ(every5.next_after(utc(2024, 1, 1, 23, 57)), utc(2024, 1, 2, 0, 0));
  cron_schedule workdays{"30 9 * * MON-FRI"};
  // 2024-01-05 is a Friday: the next one is Monday the 8th.
  EXPECT_EQ(workdays.next_after(utc(2024, 1, 5, 9, 30)), utc(2024, 1, 8, 9, 30));
  cron_schedule leap{"0 0 29 FEB *"};
  EXPECT_EQ(leap.next_after(utc(2024, 3, 1, 0, 0)), utc(2028, 2, 29, 0, 0));
  // Both day fields restricted: either matches (the 1st, or any Sunday).
  cron_schedule either{"0 12 1 * 0"};
  EXPECT_EQ(either.next_after(utc(2024, 1, 1, 12, 0)), utc(2024, 1, 7, 12, 0));
  EXPECT_EQ(either.next_after(utc(2024, 1, 28, 12, 0)), utc(2024, 2, 1, 12, 0));
  cron_schedule lists{"0,15-20/5 1 * * 7"}; // Sundays at 1:00, 1:15 and 1:20
  EXPECT_EQ(lists.next_after(utc(2024, 1, 7, 1, 0)), utc(2024, 1, 7, 1, 15));
  EXPECT_EQ(lists.next_after(utc(2024, 1, 7, 1, 15)), utc(2024, 1, 7, 1, 20));
  EXPECT_EQ(lists.next_after(utc(2024, 1, 7, 1, 20)), utc(2024, 1, 14, 1, 0));
  EXPECT_EQ(cron_schedule("0 0 30 2 *").next_after(utc(2024, 1, 1, 0, 0)), -1)
    << "February 30th never comes";
}

TEST(crontab, reads_the_schedule_in_its_time_zone_across_daylight_saving_changes) {
  cron_schedule ny{"30 2 * * *", "America/New_York"};
  // 2024-03-10: 2:00 EST jumps to 3:00 EDT, so 2:30 does not exist that day.
  EXPECT_EQ(ny.next_after(utc(2024, 3, 9, 7, 30)), utc(2024, 3, 11, 6, 30));
  EXPECT_EQ(ny.next_after(utc(2024, 3, 8, 8, 0)), utc(2024, 3, 9, 7, 30)) << "2:30 EST";
  cron_schedule fall{"30 1 * * *", "America/New_York"};
  // 2024-11-03: 1:30 happens twice (EDT, then EST); it fires once, the first time.
  auto first = fall.next_after(utc(2024, 11, 3, 0, 0));
  EXPECT_EQ(first, utc(2024, 11, 3, 5, 30));
  EXPECT_EQ(fall.next_after(first), utc(2024, 11, 4, 6, 30));
  cron_schedule berlin{"0 9 * * *", "Europe/Berlin"};
  EXPECT_EQ(berlin.next_after(utc(2024, 7, 1, 0, 0)), utc(2024, 7, 1, 7, 0)) << "CEST";
  EXPECT_EQ(berlin.next_after(utc(2024, 12, 1, 0, 0)), utc(2024, 12, 1, 8, 0)) << "CET";
}

TEST(crontab, refuses_bad_expressions_and_zones_naming_the_field) {
  auto why = [](const std::string& expr, const std::string& tz = "UTC") -> std::string {
    try {
      cron_schedule s{expr, tz};
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "accepted";
  };
  EXPECT_NE(why("* * * *").find("needs 5 fields"), std::string::npos);
  EXPECT_NE(why("60 * * * *").find("minute: 60 is outside 0-59"), std::string::npos);
  EXPECT_NE(why("* 5-2 * * *").find("hour: the range 5-2 runs backwards"), std::string::npos);
  EXPECT_NE(why("* * * FOO *").find("month: 'FOO' is not a number"), std::string::npos);
  EXPECT_NE(why("*/0 * * * *").find("minute: the step '0'"), std::string::npos);
  EXPECT_NE(why("* * * * *", "Mars/Olympus").find("unknown time zone 'Mars/Olympus'"),
            std::string::npos);
  app a{"cron"};
  EXPECT_THROW(a.crontab("* * *", [](context&) {}), std::invalid_argument);
  EXPECT_THROW(a.crontab("* * *", [](context&) {}, {.on_leader = false}),
               std::invalid_argument);
}

TEST(crontab, on_every_instance_runs_at_the_scheduled_minutes) {
  app a{"cron"};
  auto ticks = a.topic<std::string, int64_t>("ticks");
  auto runs = std::make_shared<int64_t>(0);
  a.crontab("*/20 * * * *", [=](context& ctx) { ctx.send(ticks, "tick", ++*runs); },
            {.on_leader = false});
  mt::driver_options opts;
  opts.start_time_ms = utc(2024, 1, 1, 0, 7);
  mt::driver d{a, opts};
  for (int i = 0; i < 50; ++i)
    d.advance_wall_clock(1min); // to 00:57: due at 00:20 and 00:40
  auto out = d.read(ticks);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].timestamp, utc(2024, 1, 1, 0, 20));
  EXPECT_EQ(out[1].timestamp, utc(2024, 1, 1, 0, 40));
}

TEST(crontab, runs_on_the_leader_at_the_scheduled_minutes_of_the_wall_clock) {
  app a{"cron"};
  auto ticks = a.topic<std::string, int64_t>("ticks");
  auto runs = std::make_shared<int64_t>(0);
  a.crontab("*/15 * * * *", [=](context& ctx) { ctx.send(ticks, "tick", ++*runs); });
  mt::driver_options opts;
  opts.start_time_ms = utc(2024, 1, 1, 0, 7);
  mt::driver d{a, opts};
  for (int i = 0; i < 50; ++i)
    d.advance_wall_clock(1min); // to 00:57: due at 00:15, 00:30 and 00:45
  auto out = d.read(ticks);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].timestamp, utc(2024, 1, 1, 0, 15));
  EXPECT_EQ(out[1].timestamp, utc(2024, 1, 1, 0, 30));
  EXPECT_EQ(out[2].timestamp, utc(2024, 1, 1, 0, 45));
}
