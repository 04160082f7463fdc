// Global tables (`app::global_table`, Kafka Streams' GlobalKTable): every partition of a
// topic readable from any agent, whatever its partitioning; loaded before agents run; the
// last value per key, tombstones deleting. In the test driver against truths computed here,
// plus the store's concurrency (one writer, many readers) on real threads.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <algorithm>
#include <map>
#include <set>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "mephisto/testing.hpp"

using namespace mephisto;
namespace mt = mephisto::testing;

namespace {

/// Clicks (key: user, value: country code) enriched with the country's name from the
/// global table `countries` (key: code, value: name) fed by a one-partition topic: the
/// clicks' topic is not co-partitioned with it. "user@name", or "user@?" when unknown.
struct global_app {
  app a{"globals"};
  topic<std::string, std::string> countries_topic = a.topic<std::string>("countries");
  topic<std::string, std::string> clicks = a.topic<std::string>("clicks");
  topic<std::string, std::string> enriched = a.topic<std::string>("enriched");
  global_table<std::string, std::string> countries = a.global_table("countries", countries_topic);

  global_app() {
    a.agent("enrich", clicks,
            [g = countries, out = enriched](const std::string& user, const std::string& code,
                                            context& ctx) {
              ctx.send(out, user, user + "@" + ctx[g].get_or(code, "?"));
            });
  }
};

mt::driver_options options() {
  mt::driver_options opts;
  opts.partitions = 4;
  opts.topic_partitions = {{"countries", 1}};
  return opts;
}

} // namespace

TEST(global_table, any_agent_reads_every_partition_and_the_last_value_wins) {
  global_app g;
  mt::driver d{g.a, options()};
  std::map<std::string, std::string> names; // the truth of the table
  std::map<std::string, std::vector<std::string>> truth, got;
  auto set = [&](const std::string& code, const std::string& name) {
    d.pipe(g.countries_topic, code, name);
    names[code] = name;
  };
  auto click = [&](const std::string& user, const std::string& code) {
    d.pipe(g.clicks, user, code);
    auto it = names.find(code);
    truth[user].push_back(user + "@" + (it != names.end() ? it->second : "?"));
  };
  for (int c = 0; c < 30; ++c)
    set("c" + std::to_string(c), "country " + std::to_string(c));
  d.run();
  for (int i = 0; i < 300; ++i) // c30..c39: unknown
    click("u" + std::to_string(i % 17), "c" + std::to_string(i % 40));
  d.run();
  set("c1", "renamed");                                      // a new value wins
  d.pipe_raw("countries", std::string{"c2"}, std::nullopt); // a tombstone deletes
  names.erase("c2");
  d.run();
  for (int i = 0; i < 50; ++i)
    click("u" + std::to_string(i % 7), "c" + std::to_string(i % 4));
  for (auto& r : d.read(g.enriched))
    got[r.key].push_back(r.value);
  EXPECT_EQ(got, truth);
  EXPECT_TRUE(d.dead_letters().empty());
  // Spread over the four partitions of clicks, all reading one global partition.
  std::set<int32_t> partitions;
  for (auto& r : d.read(g.enriched))
    partitions.insert(r.partition);
  EXPECT_EQ(partitions.size(), 4u);
}

TEST(global_table, is_loaded_before_the_agents_run) {
  global_app g;
  mt::driver d{g.a, options()};
  // Clicks first, the table after, in one run: the agents still see the table loaded.
  for (int i = 0; i < 20; ++i)
    d.pipe(g.clicks, "u" + std::to_string(i), std::string{"se"});
  d.pipe(g.countries_topic, std::string{"se"}, std::string{"Sweden"});
  auto out = d.read(g.enriched);
  ASSERT_EQ(out.size(), 20u);
  for (auto& r : out)
    EXPECT_EQ(r.value, r.key + "@Sweden");
}

TEST(global_table, a_record_its_codecs_refuse_is_skipped_and_the_rest_applies) {
  app a{"global-bad"};
  auto limits_topic = a.topic<std::string, int64_t>("limits");
  auto events = a.topic<std::string, int64_t>("events");
  auto over = a.topic<std::string, int64_t>("over");
  auto limits = a.global_table("limits", limits_topic);
  a.agent("check", events, [=](const std::string& k, const int64_t& v, context& ctx) {
    if (auto limit = ctx[limits].get(k); limit && v > *limit)
      ctx.send(over, k, v);
  });
  mt::driver d{a, options()};
  d.pipe_raw("limits", std::string{"a"}, std::string{"not eight bytes"});
  d.pipe(limits_topic, std::string{"b"}, int64_t{10});
  d.pipe(limits_topic, std::string{"a"}, int64_t{5});
  d.pipe(events, std::string{"a"}, int64_t{6});
  d.pipe(events, std::string{"a"}, int64_t{4});
  d.pipe(events, std::string{"b"}, int64_t{11});
  d.pipe(events, std::string{"c"}, int64_t{99}); // no limit
  std::vector<std::pair<std::string, int64_t>> got;
  for (auto& r : d.read(over))
    got.emplace_back(r.key, r.value);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::pair<std::string, int64_t>>{{"a", 6}, {"b", 11}}));
  EXPECT_EQ(d.stats().global_skipped.load(), 1u);
  EXPECT_EQ(d.stats().global_records.load(), 2u);
}

TEST(global_table, names_are_unique_among_tables) {
  app a{"global-names"};
  auto t = a.topic<std::string>("t");
  a.global_table("x", t);
  EXPECT_THROW(a.global_table("x", t), std::invalid_argument);
  a.table<std::string, std::string>("y");
  EXPECT_THROW(a.global_table("y", t), std::invalid_argument);
}

TEST(global_table, readers_on_many_threads_never_see_a_half_written_value) {
  // One writer replaces every value in batches under the exclusive lock; four readers copy
  // and visit values meanwhile. A value is one letter repeated: a torn read would mix two.
  global_store<std::string, std::string> store;
  constexpr int keys = 200;
  auto encoded = [](const std::string& s) {
    std::string out;
    codec<std::string>::encode(s, out);
    return out;
  };
  std::atomic<bool> done{false};
  std::atomic<uint64_t> reads{0}, torn{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r)
    readers.emplace_back([&, r] {
      uint64_t i = static_cast<uint64_t>(r);
      while (!done.load(std::memory_order_acquire)) {
        auto key = "k" + std::to_string(i++ % keys);
        auto check = [&](const std::string& v) {
          if (v.find_first_not_of(v.empty() ? 'a' : v[0]) != std::string::npos)
            torn.fetch_add(1);
        };
        if (auto v = store.get(key))
          check(*v);
        store.visit(key, check);
        reads.fetch_add(1, std::memory_order_relaxed);
      }
    });
  std::string why;
  // At least 300 rounds, and on until the readers read 1000 times meanwhile (a loaded
  // machine may start them late), for at most 20 s.
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int round = 0;
       round < 300 || (reads.load() < 1000 && std::chrono::steady_clock::now() < give_up);
       ++round) {
    // Between rounds the readers get their turn (the lock prefers a waiting writer).
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    auto lock = store.writes();
    auto value = encoded(std::string(64 + round % 64, static_cast<char>('a' + round % 26)));
    for (int k = 0; k < keys; ++k) {
      auto key = encoded("k" + std::to_string(k));
      EXPECT_TRUE(store.put(key, (round % 50 == 25 && k % 2) ? std::nullopt
                                                              : std::optional<std::string_view>{value},
                            why))
        << why;
    }
  }
  { // a last round without tombstones: every key is there at the end
    auto lock = store.writes();
    auto value = encoded("zz");
    for (int k = 0; k < keys; ++k)
      EXPECT_TRUE(store.put(encoded("k" + std::to_string(k)), value, why)) << why;
  }
  done.store(true, std::memory_order_release);
  for (auto& t : readers)
    t.join();
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_GE(reads.load(), 1000u); // the readers ran while the writer wrote
  EXPECT_EQ(store.size(), static_cast<size_t>(keys));
}
