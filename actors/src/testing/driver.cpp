#include "mephisto/test_driver.hpp"

#include <algorithm>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "mephisto/actors/agent.hpp"
#include "mephisto/actors/env.hpp"
#include "mephisto/actors/global_tables.hpp"
#include "mephisto/actors/instance_timers.hpp"
#include "mephisto/actors/table_shard.hpp"
#include "mephisto/rocksdb_store.hpp"
#include "driver_actors.hpp"
#include "driver_topics.hpp"

namespace mephisto::testing {

using detail::feed_cursor;
using detail::stored_record;

/// Everything a driver owns: the topics, the stores, an actor system on CAF's test
/// coordinator and the worker's actors in it. Declared in this order so that the actors
/// (and the system) go before what they point to.
class driver::impl {
public:
  driver_options opts;
  std::shared_ptr<const topology> topo;
  std::unique_ptr<detail::topics> logs;
  std::shared_ptr<worker_stats> stats;
  std::shared_ptr<rocksdb_env> rocks;
  detail::driver_record_book book;
  std::vector<std::unique_ptr<feed_cursor>> cursors;    ///< one per consumed partition
  std::vector<std::vector<store_ptr>> stores;           ///< [table][partition]
  std::vector<std::string> failures;                    ///< agents that died, and why
  int64_t now_ms = 0;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::vector<source_actor> feeds;                      ///< parallel to `cursors`

  explicit impl(const app& a, driver_options o) : opts(std::move(o)) {
    auto& wo = opts.worker;
    wo.processing_guarantee = "at_least_once";
    wo.web_listen = "off";
    if (opts.partitions < 1)
      throw std::invalid_argument("driver_options::partitions must be at least 1");
    topo = a.resolve(wo);
    stats = std::make_shared<worker_stats>(topo->agents.size());
    make_topics();
    now_ms = opts.start_time_ms;
    logs->set_now(now_ms);
    cfg.set("scheduler.policy", caf::atom("testing"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    start();
  }

  ~impl() {
    // Stop every actor on this thread, then the system, before the logs and stores go.
    for (auto& f : feeds)
      caf::anon_send_exit(f, caf::exit_reason::user_shutdown);
    feeds.clear();
    for (auto& t : shard_handles)
      for (auto& s : t)
        caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
    shard_handles.clear();
    for (auto& ag : agents)
      caf::anon_send_exit(ag, caf::exit_reason::user_shutdown);
    agents.clear();
    if (timers_everywhere)
      caf::anon_send_exit(timers_everywhere, caf::exit_reason::user_shutdown);
    timers_everywhere = nullptr;
    caf::anon_send_exit(progress, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(runner, caf::exit_reason::user_shutdown);
    progress = nullptr;
    runner = nullptr;
    sched->run();
    env.reset();
    sys.reset();
  }

  /// Runs until nothing moves: wakes feeds whose logs grew, runs every message, then the
  /// earliest timer, until neither is left.
  uint64_t run() {
    auto before = stats->events.load(std::memory_order_relaxed);
    for (;;) {
      feed_global_tables();
      bool woke = false;
      for (size_t i = 0; i < cursors.size(); ++i) {
        auto& c = *cursors[i];
        if (c.at_end && c.next < c.log->records.size()) {
          c.at_end = false;
          caf::anon_send(feeds[i], wake_atom::value);
          woke = true;
        }
      }
      if (sched->run() > 0 || woke)
        continue;
      if (!sched->has_pending_timeout())
        break;
      sched->trigger_timeout();
    }
    if (!failures.empty())
      throw pipeline_failure(failures.front());
    return stats->events.load(std::memory_order_relaxed) - before;
  }

  int32_t partitions_of(const std::string& name) const {
    auto i = logs->find(name);
    if (i < 0)
      throw std::invalid_argument("the app has no topic " + name);
    return static_cast<int32_t>(logs->logs()[static_cast<size_t>(i)].partitions.size());
  }

  std::shared_ptr<worker_env> env;
  /// How far each partition of each global table's topic was applied.
  struct global_cursor {
    size_t table = 0;
    const detail::partition_log* log = nullptr;
    size_t next = 0;
  };
  std::vector<global_cursor> global_cursors;
  std::vector<std::vector<table_shard_actor>> shard_handles;
  std::vector<agent_actor> agents;
  instance_timers_actor timers_everywhere; ///< null: no timers on every instance
  group_consumer_actor progress;
  worker_actor runner;

private:
  /// Applies what was piped or sent to the global tables' topics since the last run,
  /// before any agent runs: as a worker's global tables, loaded first.
  void feed_global_tables() {
    std::string why;
    for (auto& c : global_cursors) {
      auto& records = c.log->records;
      if (c.next >= records.size())
        continue;
      auto& store = *env->services.globals[c.table];
      auto lock = store.writes();
      for (; c.next < records.size(); ++c.next) {
        auto& r = records[c.next];
        std::optional<std::string_view> value;
        if (r.has_value)
          value = r.value;
        if (store.put(r.key, value, why)) {
          stats->global_records.fetch_add(1, std::memory_order_relaxed);
        } else {
          store.count_skipped();
          stats->global_skipped.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
  }

  /// The topics in the producer's order (topics, changelogs, dead letters) with their
  /// partition counts; checks co-partitioning as a worker does.
  void make_topics() {
    std::vector<detail::topic_log> out;
    auto parts = [&](const std::string& name, int32_t declared) {
      if (auto i = opts.topic_partitions.find(name); i != opts.topic_partitions.end())
        return i->second;
      return declared > 0 ? declared : opts.partitions;
    };
    for (auto& t : topo->topics) {
      detail::topic_log log;
      log.name = t.name;
      log.kafka_name = t.kafka_name;
      log.partitions.resize(static_cast<size_t>(parts(t.name, t.partitions)));
      out.push_back(std::move(log));
    }
    for (auto& t : topo->tables) {
      detail::topic_log log;
      log.name = t.changelog;
      log.kafka_name = t.changelog;
      auto n = t.partitions > 0 ? static_cast<size_t>(t.partitions)
               : t.fed_by >= 0  ? out[static_cast<size_t>(t.fed_by)].partitions.size()
                                : static_cast<size_t>(opts.partitions);
      log.partitions.resize(n);
      out.push_back(std::move(log));
    }
    detail::topic_log dead;
    dead.name = dead.kafka_name = topo->dead_letter_topic();
    dead.partitions.resize(static_cast<size_t>(opts.partitions));
    out.push_back(std::move(dead));
    auto count = [&](size_t log) { return static_cast<int32_t>(out[log].partitions.size()); };
    for (size_t a = 0; a < topo->agents.size(); ++a)
      for (auto t : topo->agents[a].tables) {
        auto fed = topo->tables[t].fed_by;
        auto why = topo->co_partitioning_error(a, t, count(topo->agents[a].topic),
                                               count(topo->topics.size() + t),
                                               fed >= 0 ? count(static_cast<size_t>(fed)) : 0);
        if (!why.empty())
          throw std::invalid_argument(why);
      }
    logs = std::make_unique<detail::topics>(std::move(out));
  }

  /// Opens the stores (empty, like the topics), then spawns the shards, the agents of every
  /// consumed partition and their feeds.
  void start() {
    env = std::make_shared<worker_env>();
    env->topo = topo;
    env->opts = opts.worker;
    env->opts.window_tick_ms = 0; // the driver ticks when its clock moves
    env->services.wall_clock = [this] { return now_ms; };
    auto& lg = logs->logs();
    for (size_t t = 0; t < topo->topics.size(); ++t)
      env->layout.partitions.push_back(static_cast<int32_t>(lg[t].partitions.size()));
    for (size_t t = 0; t < topo->tables.size(); ++t)
      env->layout.table_partitions.push_back(
        static_cast<int32_t>(lg[topo->topics.size() + t].partitions.size()));
    env->services.output = logs.get();
    env->services.globals = global_tables_feed::make_stores(*topo);
    for (size_t g = 0; g < topo->globals.size(); ++g)
      for (auto& part : lg[topo->globals[g].topic].partitions)
        global_cursors.push_back({g, &part, 0});
    if (opts.rocksdb) {
      if (opts.state_dir.empty())
        throw std::invalid_argument("driver_options::rocksdb needs a state_dir");
      rocks = std::make_shared<rocksdb_env>(opts.state_dir + "/" + topo->app_id,
                                            size_t{8} << 20, size_t{8} << 20);
      env->services.rocks = rocks;
    }
    env->report.stats = stats;
    runner = sys->spawn(detail::runner_book, &book);
    env->report.runner = runner;
    std::vector<size_t> agents_per_topic;
    for (size_t t = 0; t < topo->topics.size(); ++t)
      agents_per_topic.push_back(topo->agents_of(t).size());
    progress = sys->spawn(detail::progress_book, &book, agents_per_topic);
    stores.resize(topo->tables.size());
    shard_handles.resize(topo->tables.size());
    for (uint32_t t = 0; t < topo->tables.size(); ++t) {
      for (int32_t p = 0; p < env->layout.table_partitions[t]; ++p) {
        auto store = open_store(t, p);
        stores[t].push_back(store);
        shard_handles[t].push_back(sys->spawn(table_shard, env_ptr{env}, t, p, store,
                                              standby_actor{}));
      }
    }
    for (auto topic : topo->source_topics())
      for (int32_t p = 0; p < env->layout.partitions[topic]; ++p)
        start_partition(static_cast<uint32_t>(topic), p);
    if (!topo->instance_timers.empty())
      timers_everywhere = sys->spawn(instance_timers, env_ptr{env},
                                     static_cast<kafka::record_sink*>(logs.get()));
    sched->run();
  }

  store_ptr open_store(uint32_t table, int32_t partition) {
    auto store = topo->tables[table].make_store(store_place_of(*env, table, partition));
    std::string why;
    auto fail = [&](const caf::error& err) {
      throw std::runtime_error("table " + topo->tables[table].name + " ["
                               + std::to_string(partition) + "]: " + render(err));
    };
    if (auto err = store->open(why))
      fail(err);
    // The driver's changelog starts empty: so does the store.
    if (auto err = store->discard())
      fail(err);
    if (auto err = store->restore_done())
      fail(err);
    return store;
  }

  void start_partition(uint32_t topic, int32_t p) {
    auto where = topo->topics[topic].name + " [" + std::to_string(p) + "]";
    std::vector<agent_actor> partition_agents;
    auto indexes = topo->agents_of(topic);
    for (size_t slot = 0; slot < indexes.size(); ++slot) {
      agent_spec spec;
      spec.agent = static_cast<uint32_t>(indexes[slot]);
      spec.partition = p;
      spec.slot = static_cast<int32_t>(slot);
      spec.progress_sink = progress;
      for (auto t : topo->agents[spec.agent].tables)
        spec.shards.emplace_back(static_cast<uint32_t>(t),
                                 shard_handles[t][static_cast<size_t>(p)]);
      auto ag = sys->spawn(agent, env_ptr{env}, std::move(spec));
      auto name = "agent " + topo->agents[indexes[slot]].name + " on " + where;
      ag->attach_functor([this, name](const caf::error& reason) {
        if (reason && reason != caf::exit_reason::user_shutdown)
          failures.push_back(name + " failed: " + render(reason));
      });
      partition_agents.push_back(ag);
      agents.push_back(ag);
    }
    auto cursor = std::make_unique<feed_cursor>();
    cursor->log = &logs->logs()[topic].partitions[static_cast<size_t>(p)];
    cursor->where = where;
    feeds.push_back(sys->spawn(detail::feed, cursor.get(), std::move(partition_agents),
                               opts.worker.batch_size, opts.worker.batches_in_flight));
    cursors.push_back(std::move(cursor));
  }
};

namespace {

topic_record to_topic_record(const stored_record& r, int32_t partition, int64_t offset) {
  topic_record out;
  out.key = r.key;
  out.value = r.value;
  out.has_value = r.has_value;
  out.partition = partition;
  out.offset = offset;
  out.timestamp = r.timestamp;
  for (auto& [k, v] : r.headers)
    out.headers[k] = v;
  return out;
}

} // namespace

driver::driver(const app& a, driver_options opts)
  : impl_(std::make_unique<impl>(a, std::move(opts))) {
}

driver::~driver() = default;

void driver::pipe_raw(const std::string& name, std::optional<std::string> key,
                      std::optional<std::string> value, int64_t timestamp, int32_t partition,
                      record_headers headers) {
  auto index = impl_->logs->find(name);
  if (index < 0)
    throw std::invalid_argument("the app has no topic " + name);
  if (partition >= impl_->partitions_of(name))
    throw std::invalid_argument("topic " + name + " has no partition "
                                + std::to_string(partition));
  stored_record r;
  r.has_key = key.has_value();
  if (key)
    r.key = std::move(*key);
  r.has_value = value.has_value();
  if (value)
    r.value = std::move(*value);
  r.timestamp = timestamp >= 0 ? timestamp : impl_->now_ms;
  r.headers = std::move(headers);
  impl_->logs->append(static_cast<uint32_t>(index), partition, std::move(r));
}

uint64_t driver::run() {
  return impl_->run();
}

std::vector<topic_record> driver::records(const std::string& name) {
  run();
  auto index = impl_->logs->find(name);
  if (index < 0)
    throw std::invalid_argument("the app has no topic " + name);
  std::vector<topic_record> out;
  auto& log = impl_->logs->logs()[static_cast<size_t>(index)];
  for (size_t p = 0; p < log.partitions.size(); ++p) {
    auto& recs = log.partitions[p].records;
    for (size_t o = 0; o < recs.size(); ++o)
      out.push_back(to_topic_record(recs[o], static_cast<int32_t>(p), static_cast<int64_t>(o)));
  }
  return out;
}

std::vector<topic_record> driver::dead_letters() {
  return records(impl_->topo->dead_letter_topic());
}

std::vector<topic_record> driver::changelog(const std::string& name) {
  for (auto& t : impl_->topo->tables)
    if (t.name == name)
      return records(t.changelog);
  throw std::invalid_argument("the app has no table " + name);
}

std::vector<std::pair<std::string, std::string>> driver::rows(uint32_t table) {
  run();
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& store : impl_->stores.at(table))
    store->snapshot(out);
  return out;
}

std::optional<std::string> driver::lookup(uint32_t table, const std::string& key) {
  run();
  auto& parts = impl_->stores.at(table);
  auto p = detail::partition_for_key(key, static_cast<int32_t>(parts.size()));
  std::string value;
  std::string why;
  if (!parts[static_cast<size_t>(p)]->lookup(key, value, why))
    return std::nullopt;
  return value;
}

int64_t driver::wall_clock_ms() const noexcept {
  return impl_->now_ms;
}

void driver::advance_wall_clock(std::chrono::milliseconds by) {
  if (by.count() < 0)
    throw std::invalid_argument("the wall clock only moves forward");
  impl_->run(); // what was piped runs at the time it was piped
  impl_->now_ms += by.count();
  impl_->logs->set_now(impl_->now_ms);
  // Timers, wall-clock punctuators and windowed tables that close on the wall clock run
  // at their agents' tick, now.
  for (auto& a : impl_->agents)
    caf::anon_send(a, tick_atom::value);
  if (impl_->timers_everywhere)
    caf::anon_send(impl_->timers_everywhere, tick_atom::value);
  impl_->run();
}

int64_t driver::stream_time_ms(const std::string& topic, int32_t partition) const {
  auto index = impl_->logs->find(topic);
  if (index < 0 || partition < 0 || partition >= impl_->partitions_of(topic))
    throw std::invalid_argument("no partition " + std::to_string(partition) + " of " + topic);
  return impl_->logs->logs()[static_cast<size_t>(index)]
    .partitions[static_cast<size_t>(partition)]
    .max_timestamp;
}

const worker_stats& driver::stats() const noexcept {
  return *impl_->stats;
}

int64_t driver::committed(const std::string& topic, int32_t partition) {
  run();
  auto index = impl_->logs->find(topic);
  if (index < 0 || static_cast<size_t>(index) >= impl_->topo->topics.size())
    throw std::invalid_argument("the app has no topic " + topic);
  auto i = impl_->book.progress.find({static_cast<uint32_t>(index), partition});
  if (i == impl_->book.progress.end() || i->second.empty())
    return -1;
  return *std::min_element(i->second.begin(), i->second.end());
}

int32_t driver::partitions(const std::string& name) const {
  return impl_->partitions_of(name);
}

} // namespace mephisto::testing
