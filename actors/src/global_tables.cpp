#include "mephisto/actors/global_tables.hpp"

#include <algorithm>
#include <utility>

#include <caf/after.hpp>
#include <caf/system_messages.hpp>

#include "mephisto/actors/messages.hpp"
#include "mephisto/log.hpp"

namespace mephisto {

std::vector<std::shared_ptr<global_store_base>>
global_tables_feed::make_stores(const topology& topo) {
  std::vector<std::shared_ptr<global_store_base>> out;
  for (auto& g : topo.globals)
    out.push_back(g.make_store());
  return out;
}

caf::error global_tables_feed::open(const worker_env& env,
                                    std::vector<std::shared_ptr<global_store_base>> stores) {
  auto& topo = *env.topo;
  app_id_ = topo.app_id;
  stats_ = env.report.stats;
  stores_ = std::move(stores);
  locks_.resize(stores_.size());
  for (size_t i = 0; i < topo.globals.size(); ++i) {
    auto& def = topo.globals[i];
    table_names_.push_back(def.name);
    auto& kafka_topic = topo.topics[def.topic].kafka_name;
    auto it = std::find_if(sources_.begin(), sources_.end(),
                           [&](auto& s) { return s.kafka_topic == kafka_topic; });
    if (it == sources_.end()) {
      sources_.push_back({kafka_topic, {}, env.layout.partitions[def.topic]});
      it = sources_.end() - 1;
    }
    it->tables.push_back(i);
  }
  auto err = tail_.open({
    .bootstrap = env.layout.bootstrap,
    .client_id = app_id_ + "-global",
    .group_id = app_id_ + "-global",
    .offset_reset = "earliest",
    .fetch_wait = std::chrono::milliseconds(100),
    .tuning = kafka::with_client_properties({{"queued.max.messages.kbytes", "16384"}},
                                            env.opts.client_properties,
                                            kafka::client_kind::consumer),
  });
  if (err)
    return err;
  std::vector<kafka::changelog_position> positions;
  for (auto& s : sources_)
    for (int32_t p = 0; p < s.partitions; ++p)
      positions.push_back({s.kafka_topic, p, 0});
  if (auto rc = tail_.assign(positions); rc != RD_KAFKA_RESP_ERR_NO_ERROR)
    return make_error(errc::kafka_error, std::string{"global tables: assign: "}
                                           + rd_kafka_err2str(rc));
  return caf::none;
}

caf::error global_tables_feed::load(std::chrono::milliseconds stall_limit) {
  size_t total = 0;
  for (auto& s : sources_)
    total += static_cast<size_t>(s.partitions);
  partition_set ended;
  auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  auto next_log = start + std::chrono::seconds(10);
  while (ended.size() < total) {
    auto batch = tail_.read(std::chrono::milliseconds(200), kafka::changelog_tail::max_batch);
    auto now = std::chrono::steady_clock::now();
    if (batch.count() > 0)
      last_progress = now;
    apply(batch, &ended);
    if (now - last_progress > stall_limit)
      return make_error(errc::kafka_error,
                        "global tables: nothing read for "
                          + std::to_string(stall_limit.count() / 1000) + " s with "
                          + std::to_string(total - ended.size()) + " of "
                          + std::to_string(total) + " partitions not loaded");
    if (now >= next_log) {
      log().info("global tables: {} records loaded, {} of {} partitions at their end",
                 applied_, ended.size(), total);
      next_log = now + std::chrono::seconds(10);
    }
  }
  std::string sizes;
  for (size_t i = 0; i < stores_.size(); ++i)
    sizes += (sizes.empty() ? "" : ", ") + table_names_[i] + " "
             + std::to_string(stores_[i]->size()) + " keys";
  log().info("global tables loaded in {} ms: {}",
             std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now() - start).count(),
             sizes);
  return caf::none;
}

void global_tables_feed::poll(std::chrono::milliseconds wait) {
  auto batch = tail_.read(wait, kafka::changelog_tail::max_batch);
  apply(batch, nullptr);
}

void global_tables_feed::apply(kafka::changelog_batch& batch, partition_set* ended) {
  for (auto ev : batch) {
    switch (ev.kind) {
      case kafka::changelog_event::end_of_partition:
        if (ended != nullptr)
          ended->emplace(std::string{ev.topic}, ev.partition);
        continue;
      case kafka::changelog_event::offset_lost:
      case kafka::changelog_event::error:
        log().warn("global tables: {} [{}]: {}", ev.topic, ev.partition, ev.reason);
        continue;
      case kafka::changelog_event::record:
        break;
    }
    auto it = std::find_if(sources_.begin(), sources_.end(),
                           [&](auto& s) { return s.kafka_topic == ev.topic; });
    if (it == sources_.end())
      continue;
    for (auto t : it->tables) {
      if (!locks_[t].owns_lock())
        locks_[t] = stores_[t]->writes();
      if (!stores_[t]->put(ev.key, ev.value, why_)) {
        stores_[t]->count_skipped();
        stats_->global_skipped.fetch_add(1, std::memory_order_relaxed);
        log().warn("global table {}: {} [{}] offset {} skipped: {}", table_names_[t],
                   ev.topic, ev.partition, ev.offset, why_);
      }
    }
    ++applied_;
    stats_->global_records.fetch_add(1, std::memory_order_relaxed);
  }
  for (auto& l : locks_)
    if (l.owns_lock())
      l.unlock();
}

void follow_global_tables(caf::blocking_actor* self, env_ptr env,
                          std::shared_ptr<global_tables_feed> feed) {
  bool running = true;
  while (running) {
    for (bool more = true; more && running;) {
      more = false;
      self->receive([&](close_atom) { running = false; },
                    [&](caf::exit_msg&) { running = false; },
                    caf::after(std::chrono::milliseconds(0)) >> [] {});
    }
    if (running)
      feed->poll(std::chrono::milliseconds(100));
  }
  feed->close();
  env.reset();
}

} // namespace mephisto
