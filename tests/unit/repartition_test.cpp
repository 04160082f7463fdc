// Repartitioning: `app::group_by` (a new key, an optional filter before the repartition,
// the internal topic's partition count from the tables it feeds) and `app::through`, run
// in the test driver against truths computed here.

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "mephisto/testing.hpp"
#include "testing/driver_topics.hpp"

using namespace mephisto;
namespace mt = mephisto::testing;

namespace {

/// "user:page" -> "user"; nullopt for a view without a user.
std::optional<std::string> user_of(const std::string& view) {
  auto colon = view.find(':');
  if (colon == std::string::npos || colon == 0)
    return std::nullopt;
  return view.substr(0, colon);
}

} // namespace

TEST(repartition, group_by_rekeys_filters_first_and_feeds_a_table_by_the_new_key) {
  app a{"views"};
  auto views = a.topic<std::string>("page_views");
  auto by_user = a.group_by("views_by_user", views, user_of);
  auto counts = a.table<std::string, int64_t>("views_per_user");
  auto totals = a.topic<std::string, int64_t>("user_totals");
  a.agent("count_views", by_user,
          [=](const std::string& user, const std::string&, context& ctx) {
            ctx.send(totals, user, ++ctx[counts][user]);
          },
          {.tables = {counts}});
  mt::driver_options opts;
  opts.partitions = 4;
  mt::driver d{a, opts};
  std::map<std::string, int64_t> truth;
  size_t dropped = 0;
  for (int i = 0; i < 5000; ++i) {
    auto user = "u" + std::to_string((i * 7) % 23);
    std::string view = i % 10 == 0 ? "anonymous-" + std::to_string(i) : user + ":/p" + std::to_string(i % 5);
    if (user_of(view))
      ++truth[*user_of(view)];
    else
      ++dropped;
    d.pipe_raw("page_views", std::nullopt, view); // no key: any partition
  }
  d.run();
  auto moved = d.read(by_user);
  EXPECT_EQ(moved.size(), 5000 - dropped); // the filter ran before the repartition
  for (auto& r : moved) {
    EXPECT_EQ(user_of(r.value), r.key);
    EXPECT_EQ(r.partition, mt::detail::partition_for_key(r.key, 4)) << r.key;
  }
  auto check = mt::check_exactly_once(d.records("user_totals"), truth);
  EXPECT_TRUE(check) << check.message();
  EXPECT_EQ(d.contents(counts), truth);
  EXPECT_EQ(a.declared().agents[0].name, "group_by-views_by_user");
  EXPECT_EQ(a.declared().topics[by_user.index()].kafka_name, "views-views_by_user");
}

TEST(repartition, group_by_takes_the_partition_count_of_the_table_it_feeds) {
  app a{"sums"};
  auto amounts = a.topic<std::string, int64_t>("amounts");
  // A key function of (key, value) making a typed key: the amount's bucket.
  auto by_bucket = a.group_by("by_bucket", amounts,
                              [](const std::string&, const int64_t& v) { return v % 3; });
  auto sums = a.table<int64_t, int64_t>("bucket_sums", {.partitions = 3});
  a.agent("sum", by_bucket,
          [=](const int64_t& bucket, const int64_t& v, context& ctx) { ctx[sums][bucket] += v; },
          {.tables = {sums}});
  EXPECT_EQ(a.declared().topics[by_bucket.index()].partitions, 3);
  mt::driver_options opts;
  opts.partitions = 2; // the source's; the table's 3 would not fit it
  mt::driver d{a, opts};
  std::map<int64_t, int64_t> truth;
  for (int64_t v = 1; v <= 300; ++v) {
    truth[v % 3] += v;
    d.pipe(amounts, "k" + std::to_string(v % 7), v);
  }
  d.run();
  EXPECT_EQ(d.contents(sums), truth);
  for (auto& r : d.read(by_bucket))
    EXPECT_LT(r.partition, 3);
}

TEST(repartition, group_by_refuses_tables_of_different_partition_counts) {
  app a{"bad"};
  auto in = a.topic<std::string>("in");
  auto by_word = a.group_by("by_word", in, [](const std::string& v) { return v; });
  auto t3 = a.table<std::string, int64_t>("three", {.partitions = 3});
  auto t5 = a.table<std::string, int64_t>("five", {.partitions = 5});
  a.agent("a3", by_word, [=](const std::string& w, context& ctx) { ++ctx[t3][w]; },
          {.tables = {t3}});
  try {
    a.agent("a5", by_word, [=](const std::string& w, context& ctx) { ++ctx[t5][w]; },
            {.tables = {t5}});
    FAIL() << "a group_by topic feeding tables of 3 and 5 partitions was accepted";
  } catch (const std::invalid_argument& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("by_word"), std::string::npos) << what;
    EXPECT_NE(what.find("five"), std::string::npos) << what;
  }
  // An explicit count that does not fit the table is the usual co-partitioning error.
  app b{"explicit"};
  auto in_b = b.topic<std::string>("in");
  auto by_word_b = b.group_by("by_word", in_b, [](const std::string& v) { return v; },
                              {.partitions = 4});
  auto t = b.table<std::string, int64_t>("three", {.partitions = 3});
  b.agent("count", by_word_b, [=](const std::string& w, context& ctx) { ++ctx[t][w]; },
          {.tables = {t}});
  EXPECT_THROW(mt::driver{b}, std::invalid_argument);
}

TEST(repartition, through_forwards_every_event_to_a_topic_of_its_own_partition_count) {
  app a{"fan"};
  auto in = a.topic<std::string, int64_t>("in");
  auto wide = a.topic<std::string, int64_t>("wide", {.partitions = 6, .internal = true});
  auto out = a.topic<std::string, int64_t>("out");
  a.agent("double", a.through(in, wide), [=](const std::string& k, const int64_t& v, context& ctx) {
    ctx.send(out, k, 2 * v);
  });
  EXPECT_EQ(a.declared().agents[0].name, "through-wide");
  mt::driver_options opts;
  opts.partitions = 2;
  mt::driver d{a, opts};
  int64_t sum = 0;
  for (int64_t v = 0; v < 1000; ++v) {
    sum += 2 * v;
    d.pipe(in, "k" + std::to_string(v % 50), v);
  }
  d.run();
  auto forwarded = d.read(wide);
  ASSERT_EQ(forwarded.size(), 1000u);
  for (auto& r : forwarded)
    EXPECT_EQ(r.partition, mt::detail::partition_for_key(r.key, 6)) << r.key;
  int64_t got = 0;
  for (auto& r : d.read(out))
    got += r.value;
  EXPECT_EQ(got, sum);
}
