#include "standby_tailer.hpp"

#include <algorithm>

#include "mephisto/log.hpp"

namespace mephisto::standby_detail {

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
  // Consecutive records of one copy go to its store together.
  auto run_of = replicas_.end(); // the copy whose records `run_` holds
  auto apply_run = [&] {
    if (run_of == replicas_.end())
      return;
    auto k = run_of->first;
    auto& r = run_of->second;
    run_of = replicas_.end();
    auto done = run_.apply_to(*r.store, why_);
    applied += done.applied;
    if (done.next >= 0)
      r.next = done.next;
    if (done.failed >= 0) {
      log().error("{}: offset {}: the table cannot decode the record ({}); no standby for "
                  "this partition",
                  where(k), done.failed, why_);
      broken_.insert(k);
      remove(k, false);
    }
  };
  for (const auto& ev : batch) {
    auto it = replica_of(ev.topic, ev.partition);
    if (it != run_of || ev.kind != kafka::changelog_event::record) {
      apply_run();
      it = replica_of(ev.topic, ev.partition); // the run's copy may have been removed
    }
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
      run_of = it;
      run_.add(ev);
    }
  }
  apply_run();
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

} // namespace mephisto::standby_detail
