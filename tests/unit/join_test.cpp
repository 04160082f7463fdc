// Stream–table joins: `app::table_from` keeps the last value per key of a topic (a null
// value deletes the key) and an agent of another, co-partitioned topic joins against it
// with `ctx[table]`; run in the test driver against truths computed here, plus the
// start-up error for topics of different partition counts.

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mephisto/testing.hpp"

using namespace mephisto;
namespace mt = mephisto::testing;

namespace {

/// Page views (key: user, value: page) enriched with the user's country from the table
/// `users` fed by the topic `users` (key: user, value: country): "page@country", or
/// "page@unknown" for a user the table does not hold.
struct join_app {
  app a{"joins"};
  topic<std::string, std::string> users_topic = a.topic<std::string>("users");
  topic<std::string, std::string> views = a.topic<std::string>("page_views");
  topic<std::string, std::string> enriched = a.topic<std::string>("enriched");
  table<std::string, std::string> users = a.table_from("users", users_topic);

  join_app() {
    a.agent("enrich", views,
            [u = users, out = enriched](const std::string& user, const std::string& page,
                                        context& ctx) {
              auto* country = ctx[u].get(user);
              ctx.send(out, user, page + "@" + (country ? *country : "unknown"));
            },
            {.tables = {users}});
  }
};

} // namespace

TEST(join, a_stream_joins_the_last_value_of_a_table_fed_from_a_topic) {
  join_app j;
  mt::driver_options opts;
  opts.partitions = 4;
  mt::driver d{j.a, opts};
  std::map<std::string, std::string> country; // the truth of the table
  std::vector<std::string> expected;          // per user, in order
  std::map<std::string, std::vector<std::string>> truth;
  auto set_user = [&](const std::string& user, const std::string& c) {
    d.pipe(j.users_topic, user, c);
    country[user] = c;
  };
  auto view = [&](const std::string& user, const std::string& page) {
    d.pipe(j.views, user, page);
    auto it = country.find(user);
    truth[user].push_back(page + "@" + (it != country.end() ? it->second : "unknown"));
  };
  for (int u = 0; u < 40; ++u)
    set_user("u" + std::to_string(u), u % 2 ? "fr" : "de");
  d.run();
  for (int i = 0; i < 400; ++i)
    view("u" + std::to_string(i % 50), "/p" + std::to_string(i)); // u40..u49: unknown
  d.run();
  set_user("u1", "it");                                 // a new value wins
  d.pipe_raw("users", std::string{"u2"}, std::nullopt); // a tombstone deletes
  country.erase("u2");
  d.run();
  for (int i = 0; i < 100; ++i)
    view("u" + std::to_string(i % 5), "/q" + std::to_string(i));
  std::map<std::string, std::vector<std::string>> got;
  for (auto& r : d.read(j.enriched))
    got[r.key].push_back(r.value);
  EXPECT_EQ(got, truth);
  EXPECT_EQ(d.get(j.users, std::string{"u1"}), std::optional<std::string>{"it"});
  EXPECT_EQ(d.get(j.users, std::string{"u2"}), std::nullopt);
  EXPECT_EQ(d.contents(j.users).size(), 39u);
  EXPECT_TRUE(d.dead_letters().empty()) << "a tombstone is no decode error for the table";
  EXPECT_EQ(d.partitions(j.a.declared().tables[j.users.index()].changelog), 4);
}

TEST(join, the_table_takes_the_partition_count_of_its_topic) {
  join_app j;
  mt::driver_options opts;
  opts.partitions = 8;
  opts.topic_partitions = {{"users", 3}, {"page_views", 3}};
  mt::driver d{j.a, opts};
  EXPECT_EQ(d.partitions(j.a.declared().tables[j.users.index()].changelog), 3);
  d.pipe(j.users_topic, std::string{"ann"}, std::string{"se"});
  d.run();
  d.pipe(j.views, std::string{"ann"}, std::string{"/"});
  auto out = d.read(j.enriched);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].value, "/@se");
}

TEST(join, topics_of_different_partition_counts_are_refused_naming_both) {
  join_app j;
  mt::driver_options opts;
  opts.topic_partitions = {{"users", 4}, {"page_views", 8}};
  try {
    mt::driver d{j.a, opts};
    FAIL() << "a join of a 4-partition table with an 8-partition stream started";
  } catch (const std::invalid_argument& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("page_views (8 partitions)"), std::string::npos) << what;
    EXPECT_NE(what.find("users (4 partitions)"), std::string::npos) << what;
    EXPECT_NE(what.find("co-partitioned"), std::string::npos) << what;
  }
}
