// Joins on the real broker, under exactly-once: clicks joined with a co-partitioned table
// fed from a topic (`table_from`) and with a global table of another partition count
// (`global_table`), loaded before the agents start. Every click's output is checked against
// a truth computed here, phase by phase (the tables change between phases).

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <caf/all.hpp>

#include "integration/real_kafka_worker.hpp"
#include "mephisto/mephisto.hpp"
#include "mephisto/worker.hpp"
#include "support/http_client.hpp"
#include "support/testkit.hpp"

using namespace std::chrono_literals;

namespace {

using pairs = std::vector<std::pair<std::string, std::string>>;

std::string user_name(int i) { return "u" + std::to_string(i); }
std::string country_name(int i) { return "c" + std::to_string(i); }

} // namespace

TEST(real_kafka_join, clicks_join_a_fed_table_and_a_global_table_exactly_once) {
  auto bootstrap = real_kafka_worker::bootstrap();
  ASSERT_FALSE(bootstrap.empty()) << "NO REAL KAFKA BROKER (see the kafka.start fixture)";
  auto suffix = std::to_string(::getpid());
  auto users_topic = "join-users-" + suffix, clicks_topic = "join-clicks-" + suffix,
       regions_topic = "join-regions-" + suffix;
  testkit::recreate_topic(bootstrap, users_topic, 4);
  testkit::recreate_topic(bootstrap, clicks_topic, 4);
  testkit::recreate_topic(bootstrap, regions_topic, 3); // not co-partitioned: global
  mephisto::app app{"join-eos-" + suffix};
  auto users = app.topic<std::string>(users_topic);
  auto clicks = app.topic<std::string>(clicks_topic);
  auto regions = app.topic<std::string>(regions_topic);
  auto out = app.topic<std::string>("joined", {.internal = true});
  auto user_country = app.table_from("users", users);
  auto country_region = app.global_table("regions", regions);
  app.agent(
    "enrich", clicks,
    [=](const std::string& user, const std::string& page, mephisto::context& ctx) {
      auto* country = ctx[user_country].get(user);
      auto c = country ? *country : std::string{"?"};
      ctx.send(out, user, page + "," + c + "," + ctx[country_region].get_or(c, "?"));
    },
    {.tables = {user_country}});

  constexpr int n_users = 500, n_countries = 20;
  std::map<std::string, std::string> country_of, region_of; // the truths of the tables
  pairs region_records;
  for (int c = 0; c < n_countries; ++c) {
    region_of[country_name(c)] = "r" + std::to_string(c % 4);
    region_records.emplace_back(country_name(c), region_of[country_name(c)]);
  }
  // Produced before the worker starts: its agents must see them from the first click on.
  testkit::produce_keyed(bootstrap, regions_topic, region_records);

  auto opts = real_kafka_worker::exactly_once_options(bootstrap);
  opts.web_listen = "127.0.0.1:0";
  opts.commit_interval_ms = 200;
  caf::actor_system_config cfg;
  ASSERT_FALSE(mephisto::configure(cfg, opts));
  caf::actor_system sys{cfg};
  mephisto::worker w{sys, app, opts};
  ASSERT_FALSE(w.start());
  EXPECT_EQ(w.stats().global_records.load(), static_cast<uint64_t>(n_countries))
    << "start returns once the global table is loaded";

  std::map<std::string, std::vector<std::string>> truth;
  uint64_t events = 0;
  auto set_users = [&](int from, int to, int shift) {
    pairs records;
    for (int u = from; u < to; ++u) {
      country_of[user_name(u)] = country_name((u + shift) % n_countries);
      records.emplace_back(user_name(u), country_of[user_name(u)]);
    }
    testkit::produce_keyed(bootstrap, users_topic, records);
    events += records.size();
    ASSERT_TRUE(testkit::eventually([&] { return w.stats().events.load() == events; }, 60s))
      << w.stats().events.load() << " of " << events << " events";
  };
  auto click = [&](int n, int seed) {
    pairs records;
    for (int i = 0; i < n; ++i) {
      auto user = user_name((i * 7 + seed) % (n_users + 20)); // u500..u519: unknown
      auto page = "/p" + std::to_string(seed) + "-" + std::to_string(i);
      auto it = country_of.find(user);
      auto c = it != country_of.end() ? it->second : std::string{"?"};
      auto r = region_of.count(c) ? region_of[c] : std::string{"?"};
      truth[user].push_back(page + "," + c + "," + r);
      records.emplace_back(user, page);
    }
    testkit::produce_keyed(bootstrap, clicks_topic, records);
    events += records.size();
    ASSERT_TRUE(testkit::eventually([&] { return w.stats().events.load() == events; }, 60s))
      << w.stats().events.load() << " of " << events << " events";
  };

  ASSERT_TRUE(testkit::eventually([&] { return w.stats().assigned.load() == 8; }, 60s));
  set_users(0, n_users, 0);
  click(5000, 1);
  // The tables change: a user moves, a country changes region (the global table follows
  // its topic while the worker runs).
  set_users(0, 100, 3);
  pairs moved;
  for (int c = 0; c < 5; ++c) {
    region_of[country_name(c)] = "moved";
    moved.emplace_back(country_name(c), "moved");
  }
  testkit::produce_keyed(bootstrap, regions_topic, moved);
  ASSERT_TRUE(testkit::eventually(
    [&] { return w.stats().global_records.load() == static_cast<uint64_t>(n_countries + 5); },
    60s));
  click(5000, 2);

  auto joined_topic = app.resolve(opts)->topics[3].kafka_name;
  auto records = testkit::consume(bootstrap, joined_topic, 10000, 60s);
  std::map<std::string, std::vector<std::string>> got;
  for (auto& r : records)
    got[r.key].push_back(r.value);
  EXPECT_EQ(records.size(), 10000u);
  EXPECT_EQ(got, truth);
  EXPECT_EQ(w.stats().dead_letters.load(), 0u);
  // The global table through the web view: this worker's own copy answers.
  auto moved_region = testkit::http_get(w.web_address(), "/tables/regions/c3");
  EXPECT_EQ(moved_region.status, 200) << moved_region.body;
  if (moved_region.status == 200) {
    EXPECT_EQ(boost::json::parse(moved_region.body).at("value").as_string(), "moved");
  }
  EXPECT_EQ(testkit::http_get(w.web_address(), "/tables/regions/c99").status, 404);
  w.stop();
  EXPECT_FALSE(w.wait());
}
