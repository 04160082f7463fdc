#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/response_promise.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "mephisto/actors/env.hpp"
#include "mephisto/actors/messages.hpp"

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
  caf::actor standby;                          ///< standby replicas (may be null)
  store_ptr store;                             ///< null while recovering or lent
  bool active = false;
  bool lent = false;
  caf::error failure;
  std::shared_ptr<std::atomic<bool>> cancel;
  std::deque<caf::response_promise> ready_waiters;
  std::deque<caf::response_promise> lease_waiters;
  std::deque<caf::response_promise> snapshot_waiters;
  std::deque<std::pair<caf::response_promise, std::string>> lookup_waiters; ///< (reply, key)
};

/// Spawns as `spawn(table_shard, env, table, partition, restored, standby)`: with a null
/// `restored` the shard recovers from the changelog first, starting from the copy the
/// `standby` actor (if any) kept of the partition; otherwise it starts active with that
/// store.
caf::behavior table_shard(caf::stateful_actor<table_shard_state>* self, env_ptr env,
                          uint32_t table, int32_t partition, store_ptr restored,
                          caf::actor standby);

} // namespace mephisto
