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

namespace {

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
  clock_type::time_point last_lag_warning_{};
};

/// A copy this far behind gets a warning: its failover restores that much.
constexpr int64_t lag_warning_records = 100000;

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

void standby_tailer::checkpoint(table_partition k, replica& r, bool now) {
  if (r.next == r.checkpointed && !now)
    return;
  auto t = clock_type::now();
  // A durable store persists every second (and when its restore buffer is full).
  bool force = now || t - r.last_checkpoint > std::chrono::seconds(1);
  if (auto err = r.store->checkpoint(r.next, force)) {
    log().warn("{}: checkpoint failed: {}", where(k), render(err));
    return;
  }
  if (force) {
    r.checkpointed = r.next;
    r.last_checkpoint = t;
  }
}

bool standby_tailer::ensure_consumer() {
  if (tail_.is_open())
    return true;
  auto err = tail_.open({
    .bootstrap = env_->layout.bootstrap,
    .client_id = env_->topo->app_id + "-standby",
    .group_id = env_->topo->app_id + "-standby",
    // A copy whose offset the changelog no longer has is discarded, never patched.
    .offset_reset = "error",
    .fetch_wait = std::chrono::milliseconds(100),
    .tuning = kafka::with_client_properties({{"queued.max.messages.kbytes", "16384"}},
                                            env_->opts.client_properties,
                                            kafka::client_kind::consumer),
  });
  if (err)
    log().error("standby: {}", render(err));
  return !err;
}

void standby_tailer::reassign() {
  reassign_needed_ = false;
  if (!ensure_consumer())
    return;
  std::vector<kafka::changelog_position> positions;
  for (auto& [k, r] : replicas_)
    positions.push_back({env_->topo->tables[k.first].changelog, k.second, r.next});
  auto err = tail_.assign(positions);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    log().warn("standby: assign failed: {}", rd_kafka_err2str(err));
}

void standby_tailer::poll(std::chrono::milliseconds wait) {
  if (!tail_.is_open())
    return;
  auto batch = tail_.read(wait, kafka::changelog_tail::max_batch);
  uint64_t applied = 0;
  for (const auto& ev : batch) {
    auto t = table_of_changelog_.find(std::string{ev.topic});
    auto it = t != table_of_changelog_.end() ? replicas_.find({t->second, ev.partition})
                                             : replicas_.end();
    if (it == replicas_.end()) {
      if (ev.kind == kafka::changelog_event::offset_lost
          || ev.kind == kafka::changelog_event::error)
        log().warn("standby: {}", ev.reason);
      continue;
    }
    auto k = it->first;
    auto& r = it->second;
    if (ev.kind == kafka::changelog_event::end_of_partition) {
      r.next = std::max(r.next, ev.offset);
    } else if (ev.kind == kafka::changelog_event::offset_lost) {
      log().warn("{}: discarded, the changelog no longer has its offset {} ({}); rebuilding "
                 "it", where(k), r.next, ev.reason);
      if (auto err = r.store->discard())
        log().warn("{}: {}", where(k), render(err));
      r.next = r.checkpointed = 0;
      reassign_needed_ = true;
    } else if (ev.kind == kafka::changelog_event::error) {
      log().warn("{}: {}", where(k), ev.reason);
    } else if (ev.offset >= r.next) { // (older ones: fetched before a reassign)
      if (ev.apply_to(*r.store, why_)) {
        r.next = ev.offset + 1;
        ++applied;
      } else {
        log().error("{}: offset {}: the table cannot decode the record ({}); no standby for "
                    "this partition",
                    where(k), ev.offset, why_);
        broken_.insert(k);
        remove(k, false);
      }
    }
  }
  env_->report.stats->standby_records.fetch_add(applied, std::memory_order_relaxed);
  for (auto& [k, r] : replicas_)
    checkpoint(k, r, false);
  measure_lag();
}

void standby_tailer::measure_lag() {
  int64_t worst = 0;
  const table_partition* worst_copy = nullptr;
  for (auto& [k, r] : replicas_) {
    int64_t low = 0;
    int64_t end = 0; // cached from the last fetch: no request to the broker
    auto& changelog = env_->topo->tables[k.first].changelog;
    if (tail_.cached_watermarks(changelog, k.second, low, end) != RD_KAFKA_RESP_ERR_NO_ERROR
        || end < 0)
      continue;
    if (auto lag = end - r.next; lag > worst) {
      worst = lag;
      worst_copy = &k;
    }
  }
  env_->report.stats->standby_lag.store(worst, std::memory_order_relaxed);
  auto now = clock_type::now();
  if (worst_copy != nullptr && worst >= lag_warning_records
      && now - last_lag_warning_ > std::chrono::minutes(1)) {
    last_lag_warning_ = now;
    log().warn("{}: {} changelog records behind; a failover to it restores them first",
               where(*worst_copy), worst);
  }
}

} // namespace

void standby_replicas(caf::blocking_actor* self, env_ptr env) {
  standby_tailer{self, std::move(env)}.run();
}

} // namespace mephisto
