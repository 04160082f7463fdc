#pragma once

#include <caf/blocking_actor.hpp>

#include "mephisto/actors/env.hpp"
#include "mephisto/actors/messages.hpp"
#include "mephisto/actors/protocols.hpp"

namespace mephisto {

/// Standby replicas: warm copies of table partitions that other instances own.
///
/// One blocking actor per worker, on a thread of its own (it blocks on Kafka and RocksDB).
/// The cluster actor tells it which table partitions to keep (`place`, flat table,
/// partition pairs; see `standby_placement`). It tails their changelogs with one consumer
/// (assign only, never in the group, read_committed) into stores made like the shards'
/// own: the partition's RocksDB directory, or a memory store.
///
/// Failover: when this instance is assigned a partition, its table shard `take`s the copy
/// (a null store when there is none) and recovers only the changelog records the copy
/// lacks. From the `take` until the shard exits (it is monitored) the partition belongs to
/// the shard and is not tailed here, whatever the placement says; so a store is only ever
/// touched by one thread, and handed over in a message. Its messages: `standby_actor`
/// (protocols.hpp); the worker spawns it untyped (a blocking actor) and casts the handle.
void standby_replicas(caf::blocking_actor* self, env_ptr env);

/// Which of `table_partitions[t]` partitions of each table `self_address` keeps a copy of:
/// flat (table, partition) pairs. `owners(t, p)` names the live instance holding a
/// partition ("" when none is known: the copy kept so far, listed in `current`, stays).
/// Each owned partition gets `replicas` copies on the other live `members` (self
/// included), chosen by rendezvous hashing, so every instance computes the same placement
/// from the same view.
template <class Owners>
std::vector<int32_t> standby_placement(const std::string& self_address,
                                       const std::vector<std::string>& members,
                                       const std::vector<int32_t>& table_partitions,
                                       int replicas, const std::vector<int32_t>& current,
                                       Owners&& owners);

/// Rendezvous weight of `member` for table partition (table, partition).
uint64_t standby_weight(const std::string& member, int32_t table, int32_t partition);

template <class Owners>
std::vector<int32_t> standby_placement(const std::string& self_address,
                                       const std::vector<std::string>& members,
                                       const std::vector<int32_t>& table_partitions,
                                       int replicas, const std::vector<int32_t>& current,
                                       Owners&& owners) {
  std::vector<int32_t> out;
  auto kept = [&](int32_t t, int32_t p) {
    for (size_t i = 0; i + 1 < current.size(); i += 2)
      if (current[i] == t && current[i + 1] == p)
        return true;
    return false;
  };
  for (int32_t t = 0; t < static_cast<int32_t>(table_partitions.size()); ++t) {
    for (int32_t p = 0; p < table_partitions[t]; ++p) {
      std::string owner = owners(t, p);
      bool mine = false;
      if (owner.empty()) {
        mine = kept(t, p);
      } else if (owner != self_address) {
        auto my_weight = standby_weight(self_address, t, p);
        int heavier = 0; // live non-owners ranked above this instance
        for (auto& m : members)
          if (m != owner && m != self_address && standby_weight(m, t, p) > my_weight)
            ++heavier;
        mine = heavier < replicas;
      }
      if (mine) {
        out.push_back(t);
        out.push_back(p);
      }
    }
  }
  return out;
}

} // namespace mephisto
