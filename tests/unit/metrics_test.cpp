// The metric types (duration histogram, partition gauges), readiness and the Prometheus
// page against the stats it shows.

#include <chrono>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "mephisto/topology.hpp"
#include "mephisto/worker_stats.hpp"
#include "support/http_client.hpp"
#include "web/metrics_page.hpp"

using namespace std::chrono_literals;
using mephisto::duration_histogram;

TEST(duration_histogram, buckets_are_upper_bounds_and_tallies_add_once) {
  EXPECT_EQ(duration_histogram::bucket_of(0ns), 0u);
  EXPECT_EQ(duration_histogram::bucket_of(500us), 0u);  // at the bound: in it
  EXPECT_EQ(duration_histogram::bucket_of(501us), 1u);
  EXPECT_EQ(duration_histogram::bucket_of(10ms), 4u);
  EXPECT_EQ(duration_histogram::bucket_of(61s), duration_histogram::bucket_count - 1);
  duration_histogram h;
  duration_histogram::tally t;
  t.observe(1ms);
  t.observe(3ms);
  t.observe(-5ms); // clock skew: counted as 0
  h.add(t);
  EXPECT_EQ(t.total, 0u); // cleared for the next batch
  h.add(t);               // an empty tally adds nothing
  h.observe(2s);
  auto s = h.read();
  EXPECT_EQ(s.total, 4u);
  EXPECT_EQ(s.counts[0], 1u); // the skewed one
  EXPECT_EQ(s.counts[1], 1u); // 1 ms
  EXPECT_EQ(s.counts[3], 1u); // 3 ms (<= 5 ms)
  EXPECT_EQ(s.counts[duration_histogram::bucket_of(2s)], 1u);
  EXPECT_NEAR(s.sum_seconds, 2.004, 1e-9);
}

TEST(partition_gauges, set_erase_retain_and_total) {
  mephisto::partition_gauges g;
  g.set("a", 1, 10);
  g.set("a", 0, 5);
  g.set("b", 0, 7);
  g.set("a", 1, 12);
  EXPECT_EQ(g.total(), 24);
  auto all = g.read();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].topic, "a");
  EXPECT_EQ(all[0].partition, 0);
  g.erase("a", 0);
  g.retain([](const std::string& topic, int32_t) { return topic == "a"; });
  ASSERT_EQ(g.read().size(), 1u);
  EXPECT_EQ(g.total(), 12);
}

TEST(readiness, ready_only_when_joined_settled_and_every_partition_runs) {
  mephisto::worker_stats s;
  EXPECT_FALSE(mephisto::web::check_readiness(s, false).ready);
  auto r = mephisto::web::check_readiness(s, true);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason, "joining the consumer group");
  s.joined = true;
  EXPECT_TRUE(mephisto::web::check_readiness(s, true).ready); // nothing assigned
  s.assigned = 4;
  s.running_pipelines = 3;
  s.restore_remaining.set("t-changelog", 2, 1000);
  r = mephisto::web::check_readiness(s, true);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.restore_remaining, 1000);
  EXPECT_EQ(r.running, 3);
  s.running_pipelines = 4;
  s.restore_remaining.erase("t-changelog", 2);
  s.rebalancing = true;
  EXPECT_FALSE(mephisto::web::check_readiness(s, true).ready);
  s.rebalancing = false;
  EXPECT_TRUE(mephisto::web::check_readiness(s, true).ready);
}

TEST(metrics_page, shows_the_stats_in_prometheus_text) {
  mephisto::topology topo;
  topo.app_id = "shop";
  topo.topics.push_back({"orders", "orders", 2, false});
  topo.agents.push_back({"count", 0, {}, {}});
  topo.agents.push_back({"audit", 0, {}, {}});
  mephisto::worker_stats s{2};
  s.events = 30;
  s.agent_events[0] = 20;
  s.agent_events[1] = 10;
  s.batches = 3;
  s.dead_letters = 1;
  s.store_errors = 4;
  s.assigned = 2;
  s.consumer_lag.set("orders", 1, 42);
  s.note_mailbox(7);
  s.note_mailbox(3);
  duration_histogram::tally t;
  t.observe(1ms);
  t.observe(20ms);
  s.event_latency.add(t);
  auto page = testkit::parse_metrics(mephisto::web::metrics_page(s, topo, nullptr, true));
  EXPECT_EQ(page.at("mephisto_events_total{app=\"shop\"}"), 30);
  EXPECT_EQ(page.at("mephisto_agent_events_total{app=\"shop\",agent=\"count\"}"), 20);
  EXPECT_EQ(page.at("mephisto_agent_events_total{app=\"shop\",agent=\"audit\"}"), 10);
  EXPECT_EQ(page.at("mephisto_batches_total{app=\"shop\"}"), 3);
  EXPECT_EQ(page.at("mephisto_dead_letters_total{app=\"shop\"}"), 1);
  EXPECT_EQ(page.at("mephisto_store_errors_total{app=\"shop\"}"), 4);
  EXPECT_EQ(page.at("mephisto_assigned_partitions{app=\"shop\"}"), 2);
  EXPECT_EQ(page.at("mephisto_consumer_lag{app=\"shop\",topic=\"orders\",partition=\"1\"}"), 42);
  EXPECT_EQ(page.at("mephisto_agent_mailbox_peak{app=\"shop\"}"), 7);
  EXPECT_EQ(page.at("mephisto_ready{app=\"shop\"}"), 0); // not joined
  // Buckets are cumulative; +Inf holds every sample.
  EXPECT_EQ(page.at("mephisto_event_latency_seconds_bucket{app=\"shop\",le=\"0.001\"}"), 1);
  EXPECT_EQ(page.at("mephisto_event_latency_seconds_bucket{app=\"shop\",le=\"0.02\"}"), 2);
  EXPECT_EQ(page.at("mephisto_event_latency_seconds_bucket{app=\"shop\",le=\"+Inf\"}"), 2);
  EXPECT_EQ(page.at("mephisto_event_latency_seconds_count{app=\"shop\"}"), 2);
  EXPECT_NEAR(page.at("mephisto_event_latency_seconds_sum{app=\"shop\"}"), 0.021, 1e-9);
  // No RocksDB gauges without RocksDB; the mailbox peak resets on read.
  EXPECT_EQ(page.count("mephisto_rocksdb_block_cache_bytes{app=\"shop\"}"), 0u);
  EXPECT_EQ(s.read_mailbox_peak(), 0u);
}
