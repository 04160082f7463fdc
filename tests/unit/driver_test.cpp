// mephisto::testing::driver: apps run in-process without a broker, deterministically. The
// colors app against a truth computed here; bad events, retries and dead letters; tables
// in memory and in RocksDB; time; a failing partition; a bad topology.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "colors_app.hpp"
#include "mephisto/testing.hpp"
#include "support/testkit.hpp"
#include "testing/driver_topics.hpp"

using namespace mephisto;
using namespace std::chrono_literals;
namespace mt = mephisto::testing;
using mt::driver;
using mt::driver_options;

namespace {

std::map<std::string, int64_t> as_counts(const std::map<std::string, int64_t>& m) {
  return m;
}

} // namespace

TEST(driver, colors_counts_100k_words_exactly_over_8_partitions) {
  app a{"colors"};
  colors::declare(a);
  driver_options opts;
  opts.partitions = 8;
  driver d{a, opts};
  auto words = testkit::make_words(100'000, 7);
  for (auto& w : words.words)
    d.pipe_raw("input", std::nullopt, w);
  EXPECT_EQ(d.run(), words.words.size() + words.color_words); // both agents' events
  auto output = d.records("output");
  auto r = mt::check_exactly_once(output, words.colors);
  EXPECT_TRUE(r) << r.message();
  // On the partition Java's default partitioner picks for the color (as on a broker).
  for (auto& rec : output)
    EXPECT_EQ(rec.partition, mt::detail::partition_for_key(rec.key, 8)) << rec.key;
  // The table, its changelog and the counters agree with the truth.
  auto counts = a.declared().tables[0];
  mephisto::table<std::string, int64_t> table{0, counts.name};
  EXPECT_EQ(d.contents(table), as_counts(words.colors));
  EXPECT_EQ(d.get(table, std::string{"red"}), words.colors.at("red"));
  EXPECT_EQ(d.get(table, std::string{"purple"}), std::nullopt);
  std::map<std::string, std::string> encoded;
  for (auto& [k, v] : d.rows(0))
    encoded[k] = v;
  auto c = mt::check_changelog_matches_table(d.changelog("colors-count"), encoded);
  EXPECT_TRUE(c) << c.message();
  EXPECT_EQ(d.stats().events.load(), words.words.size() + words.color_words);
  EXPECT_EQ(d.stats().sent.load(), 2 * words.color_words); // colors_topic and output
  EXPECT_TRUE(d.dead_letters().empty());
  // Every input partition got records (round robin without keys) and is committed to its end.
  for (int32_t p = 0; p < 8; ++p)
    EXPECT_EQ(d.committed("input", p), static_cast<int64_t>(words.words.size() / 8)) << p;
}

TEST(driver, typed_pipe_and_read_with_timestamps_and_wall_clock) {
  app a{"typed"};
  auto in = a.topic<std::string, int64_t>("amounts");
  auto out = a.topic<std::string, int64_t>("doubled");
  a.agent("double", in, [=](const std::string& k, const int64_t& v, context& ctx) {
    ctx.send(out, k, 2 * v);
  });
  driver d{a};
  auto t0 = d.wall_clock_ms();
  d.pipe(in, std::string{"a"}, int64_t{21});             // stamped with the wall clock
  d.advance_wall_clock(5s);
  d.pipe(in, std::string{"b"}, int64_t{50}, t0 - 1000);  // an explicit (earlier) timestamp
  d.pipe(in, std::string{"c"}, int64_t{1});
  auto got = d.read(out);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].key, "a");
  EXPECT_EQ(got[0].value, 42);
  EXPECT_EQ(got[0].timestamp, t0); // outputs carry their event's timestamp
  EXPECT_EQ(got[1].value, 100);
  EXPECT_EQ(got[1].timestamp, t0 - 1000);
  EXPECT_EQ(got[2].timestamp, t0 + 5000);
  EXPECT_EQ(d.wall_clock_ms(), t0 + 5000);
  EXPECT_EQ(d.stream_time_ms("amounts", 0), t0 + 5000);
  EXPECT_THROW(d.advance_wall_clock(-1ms), std::invalid_argument);
  EXPECT_THROW(d.pipe_raw("nope", std::nullopt, "x"), std::invalid_argument);
}

TEST(driver, bad_events_are_retried_and_dead_lettered_with_their_reason) {
  app a{"bad"};
  auto in = a.topic<std::string, int64_t>("numbers");
  auto out = a.topic<std::string, int64_t>("ok");
  a.agent("picky", in, [=](const std::string& k, const int64_t& v, context& ctx) {
    if (v == 13)
      throw std::runtime_error("unlucky");
    ctx.send(out, k, v);
  });
  driver_options opts;
  opts.worker.retry_attempts = 3;
  opts.worker.retry_backoff_ms = 50;
  driver d{a, opts};
  d.pipe(in, std::string{"k"}, int64_t{1});
  d.pipe_raw("numbers", std::string{"k"}, std::string{"not a number"});
  d.pipe(in, std::string{"k"}, int64_t{13});
  d.pipe(in, std::string{"k"}, int64_t{2});
  d.run();
  auto ok = d.read(out);
  ASSERT_EQ(ok.size(), 2u);
  EXPECT_EQ(ok[0].value, 1);
  EXPECT_EQ(ok[1].value, 2);
  auto dead = d.dead_letters();
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].value, "not a number");
  EXPECT_EQ(dead[0].headers.at("mephisto.error.kind"), "decode");
  EXPECT_EQ(dead[0].headers.at("mephisto.offset"), "1");
  EXPECT_EQ(dead[1].value, "13");
  EXPECT_EQ(dead[1].headers.at("mephisto.error.kind"), "exception");
  EXPECT_EQ(dead[1].headers.at("mephisto.error"), "unlucky");
  EXPECT_EQ(dead[1].headers.at("mephisto.attempts"), "3");
  EXPECT_EQ(d.stats().retries.load(), 2u);
  EXPECT_EQ(d.stats().dead_letters.load(), 2u);
  EXPECT_EQ(d.committed("numbers", 0), 4);
}

TEST(driver, rocksdb_tables_hold_the_same_counts) {
  auto dir = testkit::temp_dir("driver-rocksdb");
  app a{"colors"};
  colors::declare(a);
  driver_options opts;
  opts.partitions = 4;
  opts.rocksdb = true;
  opts.state_dir = dir;
  driver d{a, opts};
  auto words = testkit::make_words(20'000, 3);
  for (auto& w : words.words)
    d.pipe_raw("input", std::nullopt, w);
  mephisto::table<std::string, int64_t> table{0, "colors-count"};
  EXPECT_EQ(d.contents(table), words.colors);
  auto r = mt::check_exactly_once(d.records("output"), words.colors);
  EXPECT_TRUE(r) << r.message();
  EXPECT_TRUE(std::filesystem::exists(dir + "/colors")); // the stores are on disk
}

TEST(driver, a_partition_that_asks_for_a_restart_fails_the_run) {
  app a{"restart"};
  auto in = a.topic<std::string>("in");
  a.agent("gives_up", in, [](const std::string& v, context&) {
    if (v == "stop")
      throw restart_partition("connection gone");
  });
  driver d{a};
  d.pipe_raw("in", std::nullopt, "go");
  EXPECT_EQ(d.run(), 1u);
  d.pipe_raw("in", std::nullopt, "stop");
  try {
    d.run();
    FAIL() << "no pipeline_failure";
  } catch (const mt::pipeline_failure& e) {
    EXPECT_NE(std::string{e.what()}.find("gives_up"), std::string::npos) << e.what();
  }
}

TEST(driver, tables_and_topics_that_are_not_co_partitioned_are_refused) {
  app a{"mismatch"};
  auto in = a.topic<std::string>("in");
  auto t = a.table<std::string, int64_t>("t", {.partitions = 3});
  a.agent("count", in, [=](const std::string& v, context& ctx) { ++ctx[t][v]; },
          {.tables = {t}});
  driver_options opts;
  opts.partitions = 2;
  try {
    driver d{a, opts};
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string{e.what()}.find("co-partitioned"), std::string::npos) << e.what();
  }
  opts.topic_partitions["in"] = 3; // now they match
  driver d{a, opts};
  d.pipe_raw("in", std::nullopt, "x");
  EXPECT_EQ(d.run(), 1u);
}
