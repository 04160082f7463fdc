#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include <caf/blocking_actor.hpp>

#include "mephisto/actors/env.hpp"
#include "mephisto/global_table.hpp"
#include "mephisto/kafka/changelog_tail.hpp"

namespace mephisto {

/// Reads the worker's global tables: every partition of each one's source topic, with one
/// consumer outside the consumer group (assigned, read_committed, from the beginning).
///
/// Made and `load`ed by `worker::start` on the caller's thread, which blocks until every
/// partition reached the end it had (so agents never see a half-loaded table); then handed
/// to `follow_global_tables`, a blocking actor on a thread of its own, which keeps reading.
/// One thread at a time uses it; it writes the stores in batches under their exclusive lock
/// while the agents read them.
class global_tables_feed {
public:
  /// The stores of `topo.globals`, empty, by index: what the agents read.
  static std::vector<std::shared_ptr<global_store_base>> make_stores(const topology& topo);

  /// Opens the consumer and assigns every partition of every global table's topic
  /// (`partitions` per topic index).
  caf::error open(const worker_env& env, std::vector<std::shared_ptr<global_store_base>> stores);

  /// Reads until every partition reported its end; fails when nothing arrived for
  /// `stall_limit` (a broker that went away, a topic that cannot be read).
  caf::error load(std::chrono::milliseconds stall_limit);

  /// Reads what arrived, waiting up to `wait` when nothing is there.
  void poll(std::chrono::milliseconds wait);

  void close() { tail_.close(); }

private:
  using partition_set = std::set<std::pair<std::string, int32_t>>;

  /// Applies one read, adding the partitions that reported their end to `ended`.
  void apply(kafka::changelog_batch& batch, partition_set* ended);

  struct source {
    std::string kafka_topic;
    std::vector<size_t> tables; ///< indexes into `stores_` fed by this topic
    int32_t partitions = 0;
  };

  std::string app_id_;
  std::vector<source> sources_;
  std::vector<std::string> table_names_;
  std::vector<std::shared_ptr<global_store_base>> stores_;
  std::vector<std::unique_lock<detail::writer_first_lock>> locks_; ///< reused per batch
  kafka::changelog_tail tail_;
  uint64_t applied_ = 0; ///< records applied since the start (for the load's log line)
  std::shared_ptr<worker_stats> stats_;
  std::string why_;
};

/// Follows the global tables after the load, until `close_atom` or an exit message: the
/// worker spawns it untyped and tells it to close at shutdown. Holds `env` meanwhile.
void follow_global_tables(caf::blocking_actor* self, env_ptr env,
                          std::shared_ptr<global_tables_feed> feed);

} // namespace mephisto
