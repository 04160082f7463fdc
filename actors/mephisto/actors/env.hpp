#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "mephisto/kafka/producer.hpp"
#include "mephisto/options.hpp"
#include "mephisto/rocksdb_store.hpp"
#include "mephisto/topology.hpp"
#include "mephisto/worker_stats.hpp"

namespace mephisto {

/// What every actor of one worker shares, read-only after start. The worker owns it (and
/// the producer it points to) and outlives every actor.
struct worker_env {
  std::shared_ptr<const topology> topo;
  worker_options opts;
  std::string bootstrap;                 ///< librdkafka form: host:port,...
  kafka::producer* producer = nullptr;
  std::vector<int32_t> partitions;       ///< per topic index, as found on the broker
  std::vector<int32_t> table_partitions; ///< per table index
  std::shared_ptr<worker_stats> stats;
  std::shared_ptr<rocksdb_env> rocks;    ///< null: tables in memory
  caf::actor lifecycle;                  ///< the worker actor: takes lifecycle_event
};

using env_ptr = std::shared_ptr<const worker_env>;

/// Where table `table`'s partition `partition` lives in this worker (its shard's store and
/// a standby copy alike).
inline store_place store_place_of(const worker_env& env, uint32_t table, int32_t partition) {
  store_place place;
  place.rocks = env.rocks.get();
  place.table = env.topo->tables[table].name;
  place.partition = partition;
  place.cache_keys = static_cast<size_t>(env.opts.table_cache_keys);
  return place;
}

} // namespace mephisto
