// Windowed tables (`app::windowed_table`): tumbling, hopping and session windows with
// explicit event times in the test driver; out-of-order and late events, grace, expiry,
// closing on the wall clock, the close callback's final results, bad timestamps, and a
// store rebuilt from the changelog that resumes the same windows and clock. Every truth
// is computed here.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "mephisto/testing.hpp"
#include "unit/restored_store.hpp"
#include "unit/window_support.hpp"

using namespace mephisto;
using namespace window_support;
using namespace std::chrono_literals;
namespace mt = mephisto::testing;

namespace {

void pipe(mt::driver& d, counting_app& c, const std::string& user, int64_t at) {
  d.pipe(c.events, user, std::string{"view"}, at, 0);
}

/// A tumbling one-minute count, 10 s grace: out of order within grace counts, a late
/// event is counted as late and dead-lettered, every window gets one final result, and a
/// closed window is deleted with a tombstone in the changelog.
void tumbling_scenario(mt::driver_options opts) {
  counting_app c{tumbling(60s), {.grace = 10s, .dead_letter_late = true}};
  mt::driver d{c.a, opts};
  pipe(d, c, "ann", t0 + 1000);
  pipe(d, c, "bob", t0 + 2000);
  pipe(d, c, "ann", t0 + 59000);
  pipe(d, c, "ann", t0 + 61000);      // the next minute; the first is open until +70 s
  pipe(d, c, "ann", t0 + 30000);      // out of order, within grace: the first minute
  d.run();
  EXPECT_TRUE(finals_of(d, c.finals).empty()) << "nothing closes before end + grace";
  auto held = d.windows(c.counts);
  EXPECT_EQ((held.at({"ann", window{t0, t0 + 60000}})), 3);
  EXPECT_EQ((held.at({"bob", window{t0, t0 + 60000}})), 1);
  EXPECT_EQ((held.at({"ann", window{t0 + 60000, t0 + 120000}})), 1);

  pipe(d, c, "bob", t0 + 70000);      // clock +70 s: the first minute closes
  pipe(d, c, "ann", t0 + 45000);      // late now: its window closed
  d.run();
  std::vector<final_result> expected{{"ann", t0, t0 + 60000, 3}, {"bob", t0, t0 + 60000, 1}};
  EXPECT_EQ(finals_of(d, c.finals), expected);
  EXPECT_EQ(d.stats().late_events.load(), 1u);
  EXPECT_EQ(d.stats().windows_closed.load(), 2u);
  auto dead = d.dead_letters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers.at("mephisto.error.kind"), "late");
  held = d.windows(c.counts);
  EXPECT_EQ(held.count({"ann", window{t0, t0 + 60000}}), 0u) << "closed windows are deleted";
  EXPECT_EQ((held.at({"ann", window{t0 + 60000, t0 + 120000}})), 1);
  EXPECT_EQ((held.at({"bob", window{t0 + 60000, t0 + 120000}})), 1);
  size_t tombstones = 0;
  for (auto& r : d.changelog("counts"))
    tombstones += r.has_value ? 0 : 1;
  EXPECT_EQ(tombstones, 2u) << "one tombstone per deleted window";

  pipe(d, c, "ann", t0 + 200000);     // closes the second minute
  d.run();
  expected.insert(expected.end(), {{"ann", t0 + 60000, t0 + 120000, 1},
                                   {"bob", t0 + 60000, t0 + 120000, 1}});
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(finals_of(d, c.finals), expected) << "each window closes once";
}

} // namespace

TEST(windowed_table, tumbling_counts_close_once_after_grace_and_late_events_are_dead_lettered) {
  tumbling_scenario({});
}

TEST(windowed_table, tumbling_on_rocksdb_gives_the_same_windows_and_final_results) {
  auto dir = std::filesystem::temp_directory_path()
             / ("mephisto-windows-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  mt::driver_options opts;
  opts.rocksdb = true;
  opts.state_dir = dir.string();
  tumbling_scenario(opts);
  std::filesystem::remove_all(dir);
}

TEST(windowed_table, hopping_windows_overlap_and_each_closes_with_its_own_count) {
  counting_app c{hopping(60s, 20s), {}};
  mt::driver d{c.a};
  // Event times (s past t0) and the truth: a 60 s window starting every 20 s.
  std::vector<int64_t> times{5, 25, 30, 65, 99};
  for (auto s : times)
    pipe(d, c, "ann", t0 + s * 1000);
  pipe(d, c, "ann", t0 + 1000000); // far later: closes everything before
  d.run();
  std::map<int64_t, int64_t> truth; // window start -> count
  for (auto s : times)
    for (int64_t start = (s / 20) * 20; start > s - 60; start -= 20) // from t0 - 40 s
      ++truth[start];
  std::vector<final_result> expected;
  for (auto& [start, n] : truth)
    expected.emplace_back("ann", t0 + start * 1000, t0 + start * 1000 + 60000, n);
  auto got = finals_of(d, c.finals);
  // The windows of the last event stay open.
  std::erase_if(got, [](auto& f) { return std::get<1>(f) >= t0 + 900000; });
  EXPECT_EQ(got, expected);
  EXPECT_EQ(truth.at(20), 3) << "the truth itself: 25, 30 and 65 fall in [20 s, 80 s)";
  EXPECT_EQ(truth.at(-40), 1) << "windows are aligned to the epoch, not to the first event";
}

TEST(windowed_table, sessions_merge_when_an_event_bridges_them_and_split_on_the_gap) {
  counting_app c{session(10s), {.grace = 20s}}; // grace: an event may bridge late
  mt::driver d{c.a};
  pipe(d, c, "ann", t0);
  pipe(d, c, "ann", t0 + 5000);       // [0, 5]
  pipe(d, c, "ann", t0 + 22000);      // 17 s later: a second session [22, 22]
  d.run();
  auto held = d.windows(c.counts);
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ((held.at({"ann", window{t0, t0 + 5000}})), 2);
  EXPECT_EQ((held.at({"ann", window{t0 + 22000, t0 + 22000}})), 1);
  pipe(d, c, "ann", t0 + 14000);      // within 10 s of both: one session [0, 22] of 4
  pipe(d, c, "bob", t0 + 15000);      // another key: its own session
  d.run();
  held = d.windows(c.counts);
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ((held.at({"ann", window{t0, t0 + 22000}})), 4);
  pipe(d, c, "ann", t0 + 60000);      // clock 60 s: [0, 22] closed at 22 + 10 + 20 s
  d.run();
  std::vector<final_result> expected{{"ann", t0, t0 + 22000, 4},
                                     {"bob", t0 + 15000, t0 + 15000, 1}};
  EXPECT_EQ(finals_of(d, c.finals), expected);
  EXPECT_EQ(d.windows(c.counts).size(), 1u) << "only the session of the last event is left";
}

TEST(windowed_table, windows_close_on_the_wall_clock_without_new_input) {
  counting_app c{tumbling(60s), {.grace = 5s, .close_on_wall_clock = true}};
  mt::driver_options opts;
  opts.start_time_ms = t0;
  mt::driver d{c.a, opts};
  pipe(d, c, "ann", t0 + 1000);
  pipe(d, c, "ann", t0 + 2000);
  d.run();
  d.advance_wall_clock(30s);
  EXPECT_TRUE(finals_of(d, c.finals).empty());
  d.advance_wall_clock(35s);          // wall clock t0 + 65 s: past end + grace
  std::vector<final_result> expected{{"ann", t0, t0 + 60000, 2}};
  EXPECT_EQ(finals_of(d, c.finals), expected);
  EXPECT_TRUE(d.windows(c.counts).empty());
  d.advance_wall_clock(60s);
  EXPECT_EQ(finals_of(d, c.finals), expected) << "a window closes once";
}

TEST(windowed_table, closed_windows_stay_readable_until_they_expire) {
  app a{"expiry"};
  auto events = a.topic<std::string>("events");
  auto reads = a.topic<std::string, int64_t>("reads");
  auto counts = a.windowed_table<std::string, int64_t>("counts", tumbling(10s),
                                                        {.grace = 0s, .expires = 30s});
  a.agent("count", events,
          [=](const std::string& user, const std::string& what, context& ctx) {
            auto view = ctx[counts];
            if (what == "count")
              view.update(user, [](int64_t& n) { ++n; });
            else // "read": how many closed and open windows of the last minute it sees
              ctx.send(reads, user,
                       static_cast<int64_t>(view.range(user, ctx.timestamp() - 60000,
                                                       ctx.timestamp())
                                              .size()));
          },
          {.tables = {counts}});
  mt::driver d{a};
  for (int64_t s : {1, 11, 21, 31})
    d.pipe(events, std::string{"ann"}, std::string{"count"}, t0 + s * 1000, 0);
  d.pipe(events, std::string{"ann"}, std::string{"read"}, t0 + 31000, 0);
  d.run();
  // Clock 31 s: [0, 10) closed at 10 s and expires at 40 s; all four are still held.
  EXPECT_EQ(d.windows(counts).size(), 4u);
  d.pipe(events, std::string{"ann"}, std::string{"count"}, t0 + 45000, 0);
  d.pipe(events, std::string{"ann"}, std::string{"read"}, t0 + 45000, 0);
  d.run();
  // Clock 45 s: [0, 10) expired (40 s); [10, 20) expires at 50 s.
  EXPECT_EQ(d.windows(counts).size(), 4u);
  EXPECT_EQ(d.windows(counts).count({"ann", window{t0, t0 + 10000}}), 0u);
  auto r = d.read(reads);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].value, 4);
  // The read at 45 s ran before the batch ended: [0, 10) was still there.
  EXPECT_EQ(r[1].value, 5);
}

TEST(windowed_table, an_event_without_a_usable_timestamp_goes_to_the_dead_letters) {
  app a{"badtime"};
  auto events = a.topic<std::string, int64_t>("events"); // the value is the event time
  auto counts = a.windowed_table<std::string, int64_t>("counts", tumbling(60s));
  a.agent("count", events,
          [=](const std::string& user, const int64_t& at, context& ctx) {
            ctx[counts].update_at(user, at, [](int64_t& n) { ++n; });
          },
          {.tables = {counts}});
  mt::driver d{a};
  d.pipe(events, std::string{"ann"}, t0 + 1000, t0, 0);
  d.pipe(events, std::string{"ann"}, int64_t{-1}, t0, 0);
  d.pipe(events, std::string{"ann"}, t0 + 2000, t0, 0);
  d.run();
  auto dead = d.dead_letters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers.at("mephisto.error.kind"), "bad-timestamp");
  EXPECT_EQ(dead[0].offset, 0);
  EXPECT_EQ(dead[0].headers.at("mephisto.offset"), "1");
  EXPECT_EQ(d.stats().retries.load(), 0u) << "a bad event is not retried";
  EXPECT_EQ((d.windows(counts).at({"ann", window{t0, t0 + 60000}})), 2);
}

TEST(windowed_table, declarations_that_cannot_work_are_refused_with_the_table_named) {
  app a{"bad"};
  EXPECT_THROW((a.windowed_table<std::string, int64_t>("zero", tumbling(0s))),
               std::invalid_argument);
  EXPECT_THROW((a.windowed_table<std::string, int64_t>("hop", hopping(10s, 20s))),
               std::invalid_argument);
  EXPECT_THROW((a.windowed_table<std::string, std::string>("noplus", session(0s))),
               std::invalid_argument);
  try {
    a.windowed_table<std::string, int64_t>("negative", tumbling(10s), {.grace = -1s});
    FAIL() << "a negative grace was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string{e.what()}.find("negative"), std::string::npos);
  }
  auto plain = a.table<std::string, int64_t>("plain");
  EXPECT_THROW(a.on_window_close(windowed_table<std::string, int64_t>{plain.index(), "plain",
                                                                       tumbling(1s)},
                                 [](const std::string&, const window&, const int64_t&,
                                    context&) {}),
               std::invalid_argument);
}

namespace {

/// Runs a tumbling count to clock +65 s (the first minute still open: it closes at +70 s)
/// and returns its changelog.
std::vector<mt::topic_record> count_to_65s(counting_app& c, mt::driver_options opts) {
  mt::driver d{c.a, opts};
  pipe(d, c, "ann", t0 + 1000);
  pipe(d, c, "ann", t0 + 2000);
  pipe(d, c, "bob", t0 + 3000);
  pipe(d, c, "ann", t0 + 65000);
  d.run();
  EXPECT_TRUE(finals_of(d, c.finals).empty());
  return d.changelog("counts");
}

/// What a restarted partition must see in `store`: the same three windows and clock, an
/// event of the first minute still accepted, one past its grace late, and the first
/// minute closing with the values from before the restart plus the new event.
void expect_resumed(counting_app& c, store_base& store) {
  auto* windows = static_cast<windowed_store<std::string, int64_t>*>(&store);
  EXPECT_EQ(windows->clock(), t0 + 65000);
  EXPECT_EQ(windows->size(), 3u);
  auto ctx = detail::context_access::make("count", "events", 0, c.a.declared().tables.size());
  send_buffer out;
  detail::context_access::begin_batch(*ctx, &out);
  detail::context_access::lend(*ctx, c.counts.index(), &store);
  windowed_view<std::string, int64_t> view{windows, ctx.get()};
  auto add = [](int64_t& n) { ++n; };
  store.begin_event();
  EXPECT_TRUE(view.update_at("ann", t0 + 30000, add)) << "the first minute is still open";
  store.begin_event();
  EXPECT_TRUE(view.update_at("bob", t0 + 71000, add)); // clock +71 s: the first minute closes
  store.begin_event();
  EXPECT_FALSE(view.update_at("ann", t0 + 50000, add)) << "late after the clock moved";
  store.end_batch(*ctx);
  std::map<std::string, std::string> finals;
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i].topic == c.finals.index())
      finals[std::string{out.key(out[i])}] = std::string{out.value(out[i])};
  std::string first = std::to_string(t0) + ":" + std::to_string(t0 + 60000);
  EXPECT_EQ(finals, (std::map<std::string, std::string>{{"ann", first + "=3"},
                                                          {"bob", first + "=1"}}));
}

} // namespace

TEST(windowed_table, a_store_restored_from_the_changelog_resumes_the_same_windows_and_clock) {
  counting_app c{tumbling(60s), {.grace = 10s}};
  auto store = unit_support::restored_store(c.a, c.counts.index(), count_to_65s(c, {}));
  expect_resumed(c, *store);
}

TEST(windowed_table, a_reopened_rocksdb_store_resumes_the_same_windows_and_clock) {
  auto dir = std::filesystem::temp_directory_path()
             / ("mephisto-windows-reopen-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  counting_app c{tumbling(60s), {.grace = 10s}};
  mt::driver_options opts;
  opts.rocksdb = true;
  opts.state_dir = dir.string();
  count_to_65s(c, opts);
  {
    auto rocks = std::make_shared<rocksdb_env>((dir / "windows").string(), size_t{8} << 20,
                                               size_t{8} << 20);
    auto& def = c.a.declared().tables[c.counts.index()];
    auto store = def.make_store(store_place{rocks.get(), "counts", 0});
    std::string why;
    ASSERT_FALSE(store->open(why)) << why;
    EXPECT_GT(store->restored_offset(), 0) << "nothing to replay: the rows are on disk";
    expect_resumed(c, *store);
  }
  std::filesystem::remove_all(dir);
}

TEST(windowed_table, a_lookup_by_key_answers_every_window_of_it_as_json) {
  counting_app c{tumbling(60s), {.grace = 10s}};
  auto& def = c.a.declared().tables[c.counts.index()];
  auto store = unit_support::restored_store(c.a, c.counts.index(), count_to_65s(c, {}));
  std::string why;
  // What /tables/counts/ann answers: the key in its own codec, every window of it.
  EXPECT_EQ(def.view.key_codec, codec_name<std::string>());
  ASSERT_TRUE(def.view.check_key("ann", why)) << why;
  std::string value;
  ASSERT_TRUE(store->lookup("ann", value, why)) << why;
  boost::json::value json;
  ASSERT_TRUE(def.view.value_json(value, json, why)) << why;
  auto expected = boost::json::array{
    boost::json::object{{"start", t0}, {"end", t0 + 60000}, {"value", 2}},
    boost::json::object{{"start", t0 + 60000}, {"end", t0 + 120000}, {"value", 1}}};
  EXPECT_EQ(json, boost::json::value(expected)) << boost::json::serialize(json);
  ASSERT_TRUE(store->lookup("bob", value, why));
  ASSERT_TRUE(def.view.value_json(value, json, why));
  EXPECT_EQ(json.as_array().size(), 1u);
  EXPECT_FALSE(store->lookup("nobody", value, why));
  value = "cut";
  EXPECT_FALSE(def.view.value_json(value, json, why));
  EXPECT_NE(why.find("cut short"), std::string::npos) << why;
}
