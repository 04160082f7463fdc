#pragma once

// The standby suite's app and helpers (standby_test.cpp, standby_lookup_test.cpp): two
// workers in this process on one embedded broker, linked by their cluster actors.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "mephisto/actors/cluster.hpp"
#include "mephisto/actors/env.hpp"
#include "mephisto/actors/standby.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/mephisto.hpp"
#include "mephisto/worker.hpp"
#include "support/testkit.hpp"

using namespace std::chrono_literals;

namespace standby_suite {

/// Counts events per key (the keyed counter of count_app, with a table of many keys).
inline std::shared_ptr<const mephisto::topology> keyed_counter(const mephisto::worker_options& opts) {
  mephisto::app app{"standby"};
  auto events = app.topic<std::string, std::string>("events");
  auto out = app.topic<std::string, std::int64_t>("counts-out");
  auto counts = app.table<std::string, std::int64_t>("counts");
  app.agent(
    "count", events,
    [=](const std::string& key, const std::string&, mephisto::context& ctx) {
      ctx.send(out, key, ++ctx[counts][key]);
    },
    {.tables = {counts}});
  return app.resolve(opts);
}

inline mephisto::worker_options options(const std::string& broker, const std::string& store,
                                 int standby_replicas) {
  mephisto::worker_options opts;
  opts.broker = broker;
  opts.web_listen = "off";
  opts.threads = 2;
  opts.commit_interval_ms = 200;
  opts.log_level = "warn";
  opts.store = store;
  opts.cluster_secret = "s3cret";
  opts.table_standby_replicas = standby_replicas;
  return opts;
}

/// Waits until `pred()` holds; false after `timeout`.
using testkit::eventually;

/// The table as the worker holds it, decoded.
inline std::map<std::string, int64_t> table_of(mephisto::worker& w) {
  std::map<std::string, int64_t> out;
  auto rows = w.table_snapshot("counts");
  EXPECT_TRUE(rows) << mephisto::render(rows.error());
  if (rows)
    for (auto& [k, v] : *rows)
      out[k] = std::stoll(v);
  return out;
}

/// An embedded broker of its own, with the keyed counter's topics (the embedded broker has
/// no CreateTopics); it outlives the workers.
inline std::unique_ptr<mephisto::kafka::embedded_broker> broker_for(const mephisto::worker_options& opts) {
  auto broker = std::make_unique<mephisto::kafka::embedded_broker>();
  EXPECT_FALSE(broker->start());
  for (auto& spec : keyed_counter(opts)->topic_specs(opts.topic_partitions))
    EXPECT_FALSE(broker->create_topic(spec.name, spec.partitions > 0 ? spec.partitions : 8));
  return broker;
}

struct failover_figures {
  uint64_t changelog_records = 0;   ///< in the changelog when the first worker stopped
  uint64_t restored_on_failover = 0; ///< records the survivor read to take over
  int64_t handovers = 0;
};

/// Worker A and worker B (its seed: A) split 8 partitions and count
/// 60k keyed events over 20k keys. Then A stops; B takes every partition. Returns what B
/// read to take A's partitions over, after checking that B's table is exact, before and
/// after more events.
inline failover_figures fail_over(const std::string& dir, const std::string& store_kind,
                           int standby_replicas, const std::string& assignor = "auto") {
  failover_figures fig;
  auto store_of = [&](const std::string& name) {
    return store_kind == "memory" ? std::string{"memory://"}
                                  : "rocksdb://" + dir + "/store-" + name;
  };
  auto opts_a = options("", store_of("a"), standby_replicas);
  opts_a.partition_assignor = assignor;
  auto broker = broker_for(opts_a);
  auto bootstrap = broker->bootstrap();
  opts_a.broker = broker->url();
  auto a = std::make_unique<mephisto::worker>(keyed_counter(opts_a), opts_a);
  EXPECT_FALSE(a->start());
  auto opts_b = options(broker->url(), store_of("b"), standby_replicas);
  opts_b.partition_assignor = assignor;
  opts_b.cluster_seeds = a->cluster_address();
  mephisto::worker b{keyed_counter(opts_b), opts_b};
  EXPECT_FALSE(b.start());
  EXPECT_TRUE(eventually([&] { return a->stats().assigned.load() == 4
                                      && b.stats().assigned.load() == 4; },
                         60s))
    << "the two workers did not split the 8 partitions";
  auto first = testkit::make_keyed_events(60'000, 20'000, 7);
  testkit::produce_keyed(bootstrap, "events", first.events);
  EXPECT_TRUE(eventually([&] {
    return a->stats().events.load() + b.stats().events.load() >= first.events.size();
  }, 60s));
  if (standby_replicas > 0) {
    // Each keeps a warm copy of the other's four partitions, caught up with the changelog.
    EXPECT_TRUE(eventually([&] { return a->stats().standby_partitions.load() == 4
                                        && b.stats().standby_partitions.load() == 4; },
                           30s))
      << "standby partitions: a " << a->stats().standby_partitions.load() << ", b "
      << b.stats().standby_partitions.load();
  }
  // Quiet: the changelog stops growing, and the copies catch up with it.
  uint64_t seen = 0;
  eventually([&] {
    auto now = b.stats().standby_records.load();
    bool still = now == seen;
    seen = now;
    return still;
  }, 20s);
  std::this_thread::sleep_for(500ms);
  if (standby_replicas > 0) {
    EXPECT_TRUE(eventually([&] { return a->stats().standby_lag.load() == 0
                                        && b.stats().standby_lag.load() == 0; },
                           20s))
      << "the copies did not catch up: lag a " << a->stats().standby_lag.load() << ", b "
      << b.stats().standby_lag.load();
  }
  fig.changelog_records = testkit::consume(bootstrap, "standby-counts-changelog", SIZE_MAX, 3s)
                            .size();
  auto restored_before = b.stats().restored_records.load();
  a->stop();
  EXPECT_FALSE(a->wait());
  EXPECT_TRUE(eventually([&] { return b.stats().assigned.load() == 8; }, 60s));
  // Once every shard recovered, the table answers: then it is whole.
  EXPECT_TRUE(eventually([&] { return table_of(b) == first.counts; }, 60s))
    << "the survivor's table is not exact after the failover";
  fig.restored_on_failover = b.stats().restored_records.load() - restored_before;
  fig.handovers = b.stats().standby_handovers.load();
  // It goes on counting from there.
  auto second = testkit::make_keyed_events(20'000, 20'000, 8);
  testkit::produce_keyed(bootstrap, "events", second.events);
  testkit::add_counts(first.counts, second.counts);
  EXPECT_TRUE(eventually([&] { return table_of(b) == first.counts; }, 60s))
    << "the survivor's table is not exact after more events";
  b.stop();
  EXPECT_FALSE(b.wait());
  return fig;
}

} // namespace standby_suite
