#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "mephisto/actors/env.hpp"
#include "mephisto/actors/messages.hpp"
#include "mephisto/actors/protocols.hpp"

namespace mephisto {

/// State of the actor that owns one partition of one table.
///
/// Recovering: a restorer on its own thread (it blocks on Kafka) rebuilds the store from
/// the changelog and hands it back in a message. Active: the store is lent to one agent
/// at a time for one batch (`lease` / `give_back`); waiting agents queue in order, which
/// also orders their changelog records. Nothing else touches the store meanwhile, so it
/// needs no lock. `ready` answers once recovered (or with the recovery error); `close`
/// cancels a running recovery and stops the shard; `close, true` (a clean revoke) first
/// gives an at-least-once memory store to the standby actor to keep warm.
struct table_shard_state {
  static inline const char* name = "mephisto.table_shard";

  ~table_shard_state() {
    if (cancel)
      cancel->store(true);
  }

  env_ptr env;
  uint32_t table = 0;
  int32_t partition = 0;
  std::string where;                           ///< "table t [p]"
  standby_actor standby;                       ///< standby replicas (may be null)
  store_ptr store;                             ///< null while recovering or lent
  bool active = false;
  bool lent = false;
  caf::error failure;
  std::shared_ptr<std::atomic<bool>> cancel;
  std::deque<caf::typed_response_promise<caf::ok_atom>> ready_waiters;
  std::deque<caf::typed_response_promise<store_ptr>> lease_waiters;
  std::deque<caf::typed_response_promise<table_rows>> snapshot_waiters;
  /// (reply, key)
  std::deque<std::pair<caf::typed_response_promise<bool, std::string>, std::string>>
    lookup_waiters;
};

/// Spawns as `spawn(table_shard, env, table, partition, restored, standby)`: with a null
/// `restored` the shard recovers from the changelog first, starting from the copy the
/// `standby` actor (if any) kept of the partition; otherwise it starts active with that
/// store. Its interface is `table_shard_actor` (protocols.hpp).
table_shard_actor::behavior_type
table_shard(table_shard_actor::stateful_pointer<table_shard_state> self, env_ptr env,
            uint32_t table, int32_t partition, store_ptr restored, standby_actor standby);

} // namespace mephisto
