#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mephisto/actors/fault_plan.hpp"
#include "mephisto/actors/protocols.hpp"

#include "mephisto/global_table.hpp"
#include "mephisto/kafka/producer.hpp"
#include "mephisto/options.hpp"
#include "mephisto/rocksdb_store.hpp"
#include "mephisto/topology.hpp"
#include "mephisto/worker_stats.hpp"

namespace mephisto {

/// Where the worker's topics live, as found on the broker at start.
struct kafka_layout {
  std::string bootstrap;                 ///< librdkafka form: host:port,...
  std::vector<int32_t> partitions;       ///< per topic index
  std::vector<int32_t> table_partitions; ///< per table index
};

/// The shared services the actors use; each is safe to use from any thread.
struct worker_services {
  kafka::producer* producer = nullptr;   ///< the pipeline's producer (owned by the worker)
  /// Where the agents produce: `producer`, or the test driver's topics (no `producer`).
  kafka::record_sink* output = nullptr;
  std::shared_ptr<rocksdb_env> rocks;    ///< null: tables in memory
  std::shared_ptr<fault_plan> faults;    ///< crash tests' injected faults; null: none
  /// The wall clock, ms since the epoch; null: the system clock (the test driver's own).
  std::function<int64_t()> wall_clock;
  /// The global tables' stores, by index: read by every agent, written by one feed.
  std::vector<std::shared_ptr<global_store_base>> globals;
};

/// Where the actors report to.
struct worker_reporting {
  std::shared_ptr<worker_stats> stats;   ///< counters (atomics)
  worker_actor runner;                   ///< the worker actor: lifecycle events, replies
};

/// What every actor of one worker shares, read-only after start: what to run (`topo`,
/// `opts`), where its topics are, the services and where to report. The worker owns it
/// (and the producer it points to); it waits for every actor to let go of it.
struct worker_env {
  std::shared_ptr<const topology> topo;
  worker_options opts;
  kafka_layout layout;
  worker_services services;
  worker_reporting report;
};

using env_ptr = std::shared_ptr<const worker_env>;

/// Where table `table`'s partition `partition` lives in this worker (its shard's store and
/// a standby copy alike).
inline store_place store_place_of(const worker_env& env, uint32_t table, int32_t partition) {
  store_place place;
  place.rocks = env.services.rocks.get();
  place.table = env.topo->tables[table].name;
  place.partition = partition;
  place.cache_keys = static_cast<size_t>(env.opts.table_cache_keys);
  return place;
}

/// The worker's wall clock, ms since the epoch (the test driver's under `testing::driver`).
inline int64_t wall_clock_ms(const worker_env& env) {
  if (env.services.wall_clock)
    return env.services.wall_clock();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace mephisto
