#include "mephisto/actors/standby.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include <caf/after.hpp>
#include <caf/system_messages.hpp>

#include "mephisto/kafka/changelog_tail.hpp"
#include "mephisto/log.hpp"
#include "mephisto/rocksdb_store.hpp"

#include "standby_tailer.hpp"

namespace mephisto {

uint64_t standby_weight(const std::string& member, int32_t table, int32_t partition) {
  // FNV-1a over "member/table/partition", then a final mix: stable across processes.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(member);
  mix("/" + std::to_string(table) + "/" + std::to_string(partition));
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

namespace standby_detail {

void standby_tailer::run() {
  bool running = true;
  while (running) {
    // Commands first; wait for them only when there is nothing to tail.
    auto wait = replicas_.empty() ? std::chrono::milliseconds(500) : std::chrono::milliseconds(0);
    for (bool more = true; more && running;) {
      more = false;
      self_->receive(
        [&](place_atom, std::vector<int32_t>& flat) {
          more = true;
          set_wanted(flat);
        },
        [&](keep_atom, uint32_t table, int32_t partition, store_ptr& store) {
          more = true;
          keep({table, partition}, std::move(store));
        },
        [&](take_atom, uint32_t table, int32_t partition) -> store_ptr {
          more = true;
          return take({table, partition});
        },
        [&](caf::down_msg& dm) {
          more = true;
          release(dm.source);
        },
        [&](close_atom) { running = false; },
        [&](caf::exit_msg&) { running = false; },
        caf::after(wait) >> [] {});
      wait = std::chrono::milliseconds(0);
    }
    if (!running)
      break;
    expire_given();
    if (reassign_needed_)
      reassign();
    if (!replicas_.empty())
      poll(std::chrono::milliseconds(100));
  }
  // What is tailed stays on disk for a later start (RocksDB).
  while (!replicas_.empty())
    remove(replicas_.begin()->first, true);
  tail_.close();
}

void standby_tailer::set_wanted(const std::vector<int32_t>& flat) {
  std::set<table_partition> wanted;
  for (size_t i = 0; i + 1 < flat.size(); i += 2)
    if (flat[i] >= 0 && static_cast<size_t>(flat[i]) < env_->topo->tables.size())
      wanted.emplace(static_cast<uint32_t>(flat[i]), flat[i + 1]);
  wanted_ = std::move(wanted);
  std::vector<table_partition> gone;
  auto now = clock_type::now();
  for (auto& [k, r] : replicas_)
    if (wanted_.count(k) == 0 && r.given_until < now)
      gone.push_back(k);
  for (auto k : gone)
    remove(k, true);
  for (auto k : wanted_)
    if (replicas_.count(k) == 0 && held_.count(k) == 0 && broken_.count(k) == 0)
      add(k);
  publish_count();
}

void standby_tailer::add(table_partition k) {
  auto store = env_->topo->tables[k.first].make_store(store_place_of(*env_, k.first, k.second));
  if (auto err = store->open(why_)) {
    log().warn("{}: cannot open its store: {}", where(k), render(err));
    return;
  }
  tail(k, std::move(store), {});
}

replica& standby_tailer::tail(table_partition k, store_ptr store,
                              clock_type::time_point given_until) {
  replica r;
  r.store = std::move(store);
  r.next = r.store->restored_offset();
  r.checkpointed = r.next;
  r.last_checkpoint = clock_type::now();
  r.given_until = given_until;
  reassign_needed_ = true;
  return replicas_.insert_or_assign(k, std::move(r)).first->second;
}

void standby_tailer::remove(table_partition k, bool persist) {
  auto it = replicas_.find(k);
  if (it == replicas_.end())
    return;
  if (persist) {
    checkpoint(k, it->second, true);
    if (auto err = it->second.store->restore_done())
      log().warn("{}: {}", where(k), render(err));
  }
  replicas_.erase(it);
  reassign_needed_ = true;
  publish_count();
}

store_ptr standby_tailer::take(table_partition k) {
  auto holder = self_->current_sender();
  if (holder) {
    held_[k] = holder->address();
    self_->monitor(caf::actor_cast<caf::actor>(holder));
  }
  auto it = replicas_.find(k);
  if (it == replicas_.end())
    return nullptr;
  auto& r = it->second;
  checkpoint(k, r, true);
  auto store = std::move(r.store);
  // No key count here: a RocksDB store counts by reading every key, which delayed the
  // handover by a scan of the whole partition.
  log().info("{}: handed over at changelog offset {}", where(k), r.next);
  replicas_.erase(it);
  reassign_needed_ = true;
  publish_count();
  env_->report.stats->standby_handovers.fetch_add(1, std::memory_order_relaxed);
  return store;
}

void standby_tailer::keep(table_partition k, store_ptr store) {
  held_.erase(k); // the shard that held it is going
  if (broken_.count(k) > 0 || !store)
    return;
  auto& r = tail(k, std::move(store), clock_type::now() + std::chrono::seconds(60));
  log().info("{}: kept warm from a revoked shard at changelog offset {}", where(k), r.next);
  publish_count();
}

void standby_tailer::expire_given() {
  auto now = clock_type::now();
  std::vector<table_partition> gone;
  for (auto& [k, r] : replicas_)
    if (r.given_until != clock_type::time_point{} && r.given_until < now) {
      if (wanted_.count(k) == 0)
        gone.push_back(k);
      else
        r.given_until = {}; // placed here anyway: an ordinary copy from now on
    }
  for (auto k : gone)
    remove(k, false);
}

void standby_tailer::release(const caf::actor_addr& holder) {
  std::vector<table_partition> freed;
  for (auto& [k, addr] : held_)
    if (addr == holder)
      freed.push_back(k);
  for (auto k : freed) {
    held_.erase(k);
    // Still placed here (the placement has not caught up, or it is a copy for the next
    // owner): tail it again from what the store has.
    if (wanted_.count(k) > 0 && replicas_.count(k) == 0 && broken_.count(k) == 0)
      add(k);
  }
  publish_count();
}

} // namespace standby_detail

using standby_detail::standby_tailer;

void standby_replicas(caf::blocking_actor* self, env_ptr env) {
  standby_tailer{self, std::move(env)}.run();
}

} // namespace mephisto
