#include "mephisto/actors/table_shard.hpp"

#include "mephisto/lifecycle.hpp"

#include <caf/blocking_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/send.hpp>

#include "mephisto/error.hpp"
#include "mephisto/kafka/changelog_restore.hpp"
#include "mephisto/log.hpp"

namespace mephisto {

namespace {

using self_ptr = table_shard_actor::stateful_pointer<table_shard_state>;

/// Serves waiting snapshots and the next waiting lease, in that order.
void serve(self_ptr self) {
  auto& st = self->state;
  if (!st.active || st.lent)
    return;
  std::string value;
  std::string why;
  while (!st.lookup_waiters.empty()) {
    auto& [rp, key] = st.lookup_waiters.front();
    bool found = false;
    try {
      found = st.store->lookup(key, value, why);
    } catch (const store_error& e) {
      // Condemned: the partition's next restart rebuilds it; its agent's next read of
      // the key restarts it. The asker gets an error, never a wrong value.
      log().error("{}: {}", st.where, e.what());
      rp.deliver(make_error(errc::store_failed, st.where + ": " + e.what()));
      st.lookup_waiters.pop_front();
      continue;
    }
    if (!why.empty())
      rp.deliver(make_error(errc::decode_failed, st.where + ": the key cannot be decoded: " + why));
    else
      rp.deliver(found, found ? value : std::string{});
    st.lookup_waiters.pop_front();
  }
  while (!st.snapshot_waiters.empty()) {
    table_rows rows;
    st.store->snapshot(rows);
    st.snapshot_waiters.front().deliver(std::move(rows));
    st.snapshot_waiters.pop_front();
  }
  if (!st.lease_waiters.empty()) {
    st.lent = true;
    st.lease_waiters.front().deliver(st.store);
    st.lease_waiters.pop_front();
  }
}

void fail_all(self_ptr self, const caf::error& err) {
  auto& st = self->state;
  auto fail_each = [&](auto& waiters, auto&& promise_of) {
    for (auto& w : waiters)
      promise_of(w).deliver(err);
    waiters.clear();
  };
  auto itself = [](auto& rp) -> auto& { return rp; };
  fail_each(st.ready_waiters, itself);
  fail_each(st.lease_waiters, itself);
  fail_each(st.snapshot_waiters, itself);
  fail_each(st.lookup_waiters, [](auto& w) -> auto& { return w.first; });
}

/// The shard cannot recover: whoever waits gets `err`, and it stops with it.
void fail(self_ptr self, caf::error err) {
  auto& st = self->state;
  st.failure = err;
  fail_all(self, err);
  self->quit(err);
}

/// Cancels a running recovery, fails whoever waits and stops.
void close(self_ptr self) {
  auto& st = self->state;
  st.cancel->store(true);
  fail_all(self, make_error(errc::recovery_failed, st.where + " closed"));
  self->quit();
}

/// Opens the shard's store (or takes the standby copy `warm`) and brings it up to date with
/// the changelog on a thread of its own (both block: disk and Kafka), then hands it to the
/// shard in a message.
void spawn_restorer(self_ptr self, kafka::restore_job job, store_place place, store_ptr warm) {
  auto cancel = self->state.cancel;
  auto make_store = self->state.env->topo->tables[self->state.table].make_store;
  auto where = self->state.where;
  table_shard_actor shard{self};
  // `env` rides along so that the worker, which waits for its actors by waiting for its
  // env to be released, also waits for this restorer (its store may live in env->services.rocks).
  self->spawn([env = self->state.env, job, place, make_store, cancel, shard, where,
               warm](caf::blocking_actor* restorer) mutable {
    auto store = std::move(warm);
    if (store) {
      log().info("{}: standby copy at offset {}", where, store->restored_offset());
    } else {
      store = make_store(place);
      std::string why;
      if (auto err = store->open(why)) {
        restorer->send(shard, restored_atom::value, err);
        return;
      }
      if (place.rocks != nullptr) {
        if (!why.empty())
          log().info("{}: {}, rebuilding it from the changelog", where, why);
        else
          log().info("{}: local store at offset {}", where, store->restored_offset());
      }
    }
    job.cancel = cancel.get();
    auto res = kafka::restore_changelog(job, *store);
    if (res)
      restorer->send(shard, restored_atom::value, store, res->records, res->seconds);
    else
      restorer->send(shard, restored_atom::value, res.error());
  });
}

} // namespace

table_shard_actor::behavior_type
table_shard(table_shard_actor::stateful_pointer<table_shard_state> self, env_ptr env,
            uint32_t table, int32_t partition, store_ptr restored, standby_actor standby) {
  auto& st = self->state;
  auto& def = env->topo->tables[table];
  st.table = table;
  st.partition = partition;
  st.where = "table " + def.name + " [" + std::to_string(partition) + "]";
  st.standby = standby;
  st.cancel = std::make_shared<std::atomic<bool>>(false);
  kafka::restore_job job;
  job.bootstrap = env->layout.bootstrap;
  job.client_settings = kafka::with_client_properties({}, env->opts.client_properties,
                                                      kafka::client_kind::consumer);
  job.changelog = def.changelog;
  job.partition = partition;
  job.table = def.name;
  job.stall_timeout = std::chrono::milliseconds(env->opts.recovery_stall_timeout_ms);
  job.remaining = &env->report.stats->restore_remaining;
  st.env = std::move(env);
  if (restored) {
    st.store = std::move(restored);
    st.active = true;
  } else {
    auto place = store_place_of(*st.env, table, partition);
    if (!standby) {
      spawn_restorer(self, job, std::move(place), nullptr);
    } else {
      // The standby copy, if this instance kept one; from now until this shard exits the
      // partition is not tailed there, so the store has one user.
      self->request(standby, std::chrono::seconds(30), take_atom::value, table, partition)
        .then(
          [self, job, place](store_ptr& warm) { spawn_restorer(self, job, place, std::move(warm)); },
          [self, job, place](caf::error& err) {
            if (err == caf::sec::request_receiver_down) { // no standby any more: no copy
              spawn_restorer(self, job, place, nullptr);
              return;
            }
            // It may still hold the store: recovering next to it could share it.
            auto& st = self->state;
            auto why = make_error(errc::recovery_failed,
                                  st.where + ": the standby did not hand over: " + render(err));
            log().error("{}", render(why));
            fail(self, std::move(why));
          });
    }
  }
  return {
    [self](restored_atom, store_ptr& store, uint64_t records, double seconds) {
      auto& st = self->state;
      st.store = std::move(store);
      st.active = true;
      st.env->report.stats->restored_records.fetch_add(records, std::memory_order_relaxed);
      // No key count: a RocksDB store counts by reading every key (on this thread).
      log().info("{} recovered: {} changelog records in {:.3f} s", st.where, records, seconds);
      for (auto& rp : st.ready_waiters)
        rp.deliver(caf::ok_atom::value);
      st.ready_waiters.clear();
      lifecycle_event ev;
      ev.what = lifecycle_event::kind::recovered;
      ev.table = st.env->topo->tables[st.table].name;
      ev.partition = st.partition;
      self->send(st.env->report.runner, std::move(ev));
      serve(self);
    },
    [self](restored_atom, caf::error& err) {
      auto& st = self->state;
      log().error("{}: recovery failed: {}", st.where, render(err));
      fail(self, std::move(err));
    },
    [self](ready_atom) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      if (st.active)
        return caf::ok_atom::value;
      auto rp = self->make_response_promise<caf::ok_atom>();
      st.ready_waiters.push_back(rp);
      return rp;
    },
    [self](lease_atom) {
      auto rp = self->make_response_promise<store_ptr>();
      self->state.lease_waiters.push_back(rp);
      serve(self);
      return rp;
    },
    [self](give_back_atom, store_ptr&) {
      self->state.lent = false;
      serve(self);
    },
    [self](get_key_atom, std::string& key) -> caf::result<bool, std::string> {
      // Routed table lookups: an answer from a recovering shard would be stale.
      auto& st = self->state;
      if (!st.active)
        return make_error(errc::not_ready, st.where + " is recovering; try again");
      auto rp = self->make_response_promise<bool, std::string>();
      st.lookup_waiters.emplace_back(rp, std::move(key));
      serve(self);
      return rp;
    },
    [self](snapshot_atom) {
      auto rp = self->make_response_promise<table_rows>();
      self->state.snapshot_waiters.push_back(rp);
      serve(self);
      return rp;
    },
    [self](close_atom, bool keep_warm) {
      // A clean revoke under at-least-once: a memory store holds nothing the changelog
      // lacks, so the standby actor keeps it warm, and a partition that comes back (as
      // after every eager rebalance) reads only the tail. (RocksDB keeps its directory;
      // exactly-once may still abort what it holds.)
      auto& st = self->state;
      if (keep_warm && st.standby && st.active && !st.lent && !st.failure && !st.env->services.rocks
          && !st.env->opts.exactly_once()) {
        // From here on the standby thread owns it: this shard never touches it again.
        self->send(st.standby, keep_atom::value, st.table, st.partition, std::move(st.store));
        st.store = nullptr;
        st.active = false;
      }
      close(self);
    },
  };
}

} // namespace mephisto
