#pragma once

// The standby actor's state (standby.cpp: its commands; standby_tailing.cpp: the changelog
// reads into its copies). Private to the actors library.

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mephisto/actors/standby.hpp"
#include "mephisto/kafka/changelog_tail.hpp"
#include "mephisto/log.hpp"

namespace mephisto::standby_detail {

using clock_type = std::chrono::steady_clock;
using table_partition = std::pair<uint32_t, int32_t>;

/// One warm copy.
struct replica {
  store_ptr store;
  int64_t next = 0;          ///< next changelog offset to apply
  int64_t checkpointed = 0;  ///< `next` at the last checkpoint
  clock_type::time_point last_checkpoint{};
  /// A store given by a revoked shard is kept until then even where the placement does
  /// not want it: its partition may come back with the rebalance.
  clock_type::time_point given_until{};
};

/// The actor's state and its one consumer; runs on the actor's thread only.
class standby_tailer {
public:
  standby_tailer(caf::blocking_actor* self, env_ptr env) : self_(self), env_(std::move(env)) {
    for (uint32_t t = 0; t < env_->topo->tables.size(); ++t)
      table_of_changelog_[env_->topo->tables[t].changelog] = t;
  }

  void run();

private:
  std::string where(table_partition k) const {
    return "standby of table " + env_->topo->tables[k.first].name + " ["
           + std::to_string(k.second) + "]";
  }

  void set_wanted(const std::vector<int32_t>& flat);
  store_ptr take(table_partition k);
  void keep(table_partition k, store_ptr store);
  void expire_given();
  void release(const caf::actor_addr& holder);
  void add(table_partition k);
  /// Starts tailing `store` from the offset it reflects (replacing a copy of `k`).
  replica& tail(table_partition k, store_ptr store, clock_type::time_point given_until);
  void remove(table_partition k, bool persist);
  void poll(std::chrono::milliseconds wait);
  /// The copy a record of `topic` [`partition`] is for, or replicas_.end().
  std::map<table_partition, replica>::iterator replica_of(std::string_view topic,
                                                          int32_t partition) {
    if (topic != last_topic_) { // records come in runs of one topic: no lookup, no copy
      last_topic_ = topic;
      auto t = table_of_changelog_.find(last_topic_);
      last_table_ = t != table_of_changelog_.end() ? static_cast<int64_t>(t->second) : -1;
    }
    if (last_table_ < 0)
      return replicas_.end();
    return replicas_.find({static_cast<uint32_t>(last_table_), partition});
  }
  void checkpoint(table_partition k, replica& r, bool now);
  void reassign();
  bool ensure_consumer();
  /// Publishes how far the copies are behind their changelogs; warns about a copy far
  /// behind (a slow disk, a changelog written faster than it is read), once a minute.
  void measure_lag();
  /// Updates the stats and, when the set of copies changed, says which ones it keeps.
  void publish_count() {
    env_->report.stats->standby_partitions.store(static_cast<int64_t>(replicas_.size()),
                                          std::memory_order_relaxed);
    std::set<table_partition> now;
    for (auto& [k, r] : replicas_)
      now.insert(k);
    if (now == logged_)
      return;
    logged_ = std::move(now);
    std::string list;
    for (auto& k : logged_)
      list += (list.empty() ? "" : ", ") + env_->topo->tables[k.first].name + " ["
              + std::to_string(k.second) + "]";
    log().info("standby: {} table partitions kept warm{}{}", logged_.size(),
               list.empty() ? "" : ": ", list);
  }

  caf::blocking_actor* self_;
  env_ptr env_;
  std::map<std::string, uint32_t> table_of_changelog_;
  std::set<table_partition> wanted_;                    ///< the cluster's placement
  std::map<table_partition, replica> replicas_;         ///< tailed now
  std::map<table_partition, caf::actor_addr> held_;     ///< taken by a local shard
  std::set<table_partition> broken_;                    ///< undecodable: not tailed again
  std::set<table_partition> logged_;                    ///< copies last logged
  kafka::changelog_tail tail_;
  bool reassign_needed_ = false;
  std::string why_;
  kafka::record_run run_;   ///< poll's records of one copy, applied together
  std::string last_topic_;  ///< replica_of's last topic, and its table (-1: none)
  int64_t last_table_ = -1;
  clock_type::time_point last_lag_warning_{};
};

/// A copy this far behind gets a warning: its failover restores that much.
constexpr int64_t lag_warning_records = 100000;

} // namespace mephisto::standby_detail
