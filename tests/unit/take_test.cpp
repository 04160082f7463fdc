// Batch agents (`agent_options::take`, Faust's `stream.take`): batches of at most
// `max_events`, or fewer after `within` of the wall clock; offsets committed only after the
// batch function returned; a failing batch retried, then dead-lettered whole. In the test
// driver, whose wall clock moves only when the test moves it.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
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

/// An app whose batch agent `sink` writes each batch as one record to `batches`: key the
/// batch's first key, value the keys joined with commas; `fail` decides whether a call
/// throws (by its call number, from 1).
struct sink_app {
  app a{"take"};
  topic<std::string, int64_t> events = a.topic<std::string, int64_t>("events");
  topic<std::string, std::string> batches = a.topic<std::string, std::string>("batches");
  table<std::string, int64_t> totals = a.table<std::string, int64_t>("totals");
  std::shared_ptr<int> calls = std::make_shared<int>(0);

  explicit sink_app(take_options take, std::function<bool(int)> fail = {}) {
    a.agent(
      "sink", events,
      [b = batches, t = totals, calls = calls, fail](std::span<const taken<std::string, int64_t>> evs,
                                                     context& ctx) {
        auto call = ++*calls;
        std::string keys;
        int64_t last = -1;
        for (auto& e : evs) {
          EXPECT_GT(e.offset, last) << "in offset order";
          last = e.offset;
          keys += (keys.empty() ? "" : ",") + e.key;
          ctx[t]["sum"] += e.value;
        }
        ctx.send(b, evs.front().key, keys);
        if (fail && fail(call))
          throw std::runtime_error("the sink is down");
      },
      {.tables = {totals}, .take = take});
  }

  static mt::driver_options options() {
    mt::driver_options o;
    o.start_time_ms = t0;
    o.worker.retry_attempts = 3;
    return o;
  }

  void pipe(mt::driver& d, int from, int to) {
    for (int i = from; i < to; ++i)
      d.pipe(events, "k" + std::to_string(i), int64_t{i}, t0 + i, 0);
  }
};

std::vector<std::string> values(const std::vector<mt::typed_record<std::string, std::string>>& rs) {
  std::vector<std::string> out;
  for (auto& r : rs)
    out.push_back(r.value);
  return out;
}

} // namespace

TEST(take, runs_full_batches_and_holds_the_rest_uncommitted_until_within_passed) {
  sink_app s{{.max_events = 4, .within = 10s}};
  mt::driver d{s.a, sink_app::options()};
  s.pipe(d, 0, 10);
  d.run();
  EXPECT_EQ(values(d.read(s.batches)),
            (std::vector<std::string>{"k0,k1,k2,k3", "k4,k5,k6,k7"}));
  EXPECT_EQ(d.committed("events", 0), 8) << "k8 and k9 are held: not committed";
  EXPECT_EQ(d.get(s.totals, std::string{"sum"}), 28);
  d.advance_wall_clock(9s);
  EXPECT_EQ(d.read(s.batches).size(), 2u) << "k8 waited 9 s of 10";
  d.advance_wall_clock(2s);
  auto out = values(d.read(s.batches));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2], "k8,k9");
  EXPECT_EQ(d.committed("events", 0), 10);
  EXPECT_EQ(d.get(s.totals, std::string{"sum"}), 45);
  EXPECT_EQ(d.stats().events.load(), 10u);
}

TEST(take, within_counts_from_the_first_event_held) {
  sink_app s{{.max_events = 100, .within = 1s}};
  mt::driver d{s.a, sink_app::options()};
  d.advance_wall_clock(5s); // nothing held: nothing runs
  EXPECT_EQ(*s.calls, 0);
  s.pipe(d, 0, 1);
  d.run();
  d.advance_wall_clock(600ms);
  s.pipe(d, 1, 3);
  d.run();
  EXPECT_EQ(*s.calls, 0);
  EXPECT_EQ(d.committed("events", 0), 0);
  d.advance_wall_clock(500ms); // k0 has waited 1.1 s
  EXPECT_EQ(values(d.read(s.batches)), (std::vector<std::string>{"k0,k1,k2"}));
  EXPECT_EQ(d.committed("events", 0), 3);
}

TEST(take, a_failing_batch_runs_again_with_the_same_events_and_its_first_sends_undone) {
  sink_app s{{.max_events = 3, .within = 1h}, [](int call) { return call == 1; }};
  mt::driver d{s.a, sink_app::options()};
  s.pipe(d, 0, 7);
  d.run();
  EXPECT_EQ(values(d.read(s.batches)), (std::vector<std::string>{"k0,k1,k2", "k3,k4,k5"}))
    << "the failed run's send was dropped; the retry sent once";
  EXPECT_EQ(d.get(s.totals, std::string{"sum"}), 15) << "the failed run's table changes were undone";
  EXPECT_EQ(d.stats().retries.load(), 1u);
  EXPECT_EQ(d.stats().events.load(), 7u);
  EXPECT_TRUE(d.dead_letters().empty());
  EXPECT_EQ(d.committed("events", 0), 6);
}

TEST(take, a_batch_failing_every_attempt_is_dead_lettered_whole_and_committed) {
  sink_app s{{.max_events = 3, .within = 1s}, [](int call) { return call <= 3; }};
  mt::driver d{s.a, sink_app::options()};
  s.pipe(d, 0, 5);
  d.run();
  auto dead = d.dead_letters();
  ASSERT_EQ(dead.size(), 3u) << "the first batch, after 3 attempts";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(dead[i].key, "k" + std::to_string(i));
    EXPECT_EQ(dead[i].headers.at("mephisto.error.kind"), "exception");
    EXPECT_EQ(dead[i].headers.at("mephisto.error"), "the sink is down");
    EXPECT_EQ(dead[i].headers.at("mephisto.offset"), std::to_string(i));
    EXPECT_EQ(dead[i].headers.at("mephisto.attempts"), "3");
  }
  EXPECT_EQ(d.committed("events", 0), 3) << "k3 and k4 are held";
  d.advance_wall_clock(2s); // the 4th call: k3, k4 pass
  EXPECT_EQ(values(d.read(s.batches)), (std::vector<std::string>{"k3,k4"}));
  EXPECT_EQ(d.committed("events", 0), 5);
  EXPECT_EQ(d.stats().failures.load(), 1u);
  EXPECT_EQ(d.get(s.totals, std::string{"sum"}), 7);
}

TEST(take, a_held_batch_failing_on_the_wall_clock_is_retried_then_dead_lettered) {
  sink_app s{{.max_events = 10, .within = 1s}, [](int) { return true; }};
  mt::driver d{s.a, sink_app::options()};
  s.pipe(d, 0, 2);
  d.run();
  d.advance_wall_clock(2s);
  EXPECT_EQ(*s.calls, 3) << "retried after the backoff, 3 attempts in all";
  EXPECT_EQ(d.dead_letters().size(), 2u);
  EXPECT_EQ(d.committed("events", 0), 2);
  EXPECT_TRUE(d.read(s.batches).empty());
}

TEST(take, an_undecodable_event_is_dead_lettered_and_the_batch_goes_on) {
  sink_app s{{.max_events = 2, .within = 1s}};
  mt::driver d{s.a, sink_app::options()};
  s.pipe(d, 0, 1);
  d.pipe_raw("events", std::string{"bad"}, std::string{"not a number"}, t0, 0);
  s.pipe(d, 1, 2);
  d.run();
  EXPECT_EQ(values(d.read(s.batches)), (std::vector<std::string>{"k0,k1"}));
  ASSERT_EQ(d.dead_letters().size(), 1u);
  EXPECT_EQ(d.dead_letters()[0].headers.at("mephisto.error.kind"), "decode");
  EXPECT_EQ(d.committed("events", 0), 3);
}

TEST(take, tombstones_arrive_as_nullopt_in_an_optional_batch) {
  app a{"take-optional"};
  auto changes = a.topic<std::string, std::string>("changes");
  auto deleted = a.topic<std::string, int64_t>("deleted");
  a.agent(
    "count-deletes", changes,
    [=](std::span<const taken<std::string, std::optional<std::string>>> evs, context& ctx) {
      int64_t n = 0;
      for (auto& e : evs)
        n += e.value ? 0 : 1;
      ctx.send(deleted, "n", n);
    },
    {.take = {.max_events = 3}});
  mt::driver d{a};
  d.pipe(changes, std::string{"a"}, std::string{"1"});
  d.pipe_raw("changes", std::string{"b"}, std::nullopt, -1, 0);
  d.pipe_raw("changes", std::string{"c"}, std::nullopt, -1, 0);
  auto out = d.read(deleted);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].value, 2);
}
