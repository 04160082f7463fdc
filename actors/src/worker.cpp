#include "mephisto/worker.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "mephisto/actors/env.hpp"
#include "mephisto/actors/cluster.hpp"
#include "mephisto/actors/group_consumer.hpp"
#include "mephisto/actors/manager.hpp"
#include "mephisto/actors/standby.hpp"
#include "mephisto/kafka/admin.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/kafka/producer.hpp"
#include "mephisto/log.hpp"

namespace mephisto {

struct worker::impl {
  std::shared_ptr<const topology> topo;
  worker_options opts;
  std::shared_ptr<worker_stats> stats = std::make_shared<worker_stats>();
  std::unique_ptr<kafka::embedded_broker> embedded;
  kafka::producer producer;
  std::string bootstrap;
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor manager;
  caf::actor consumer;
  caf::actor cluster_actor;
  caf::actor standby;
  std::string cluster_address;
  std::shared_ptr<group_consumer_data> group;
  bool started = false;
  bool finished = false;
  caf::error failure;
  /// For the calls that may come from any thread (`stop`, lookups, snapshots): they hold
  /// `lifetime` shared while they use the actor system and the handles above, and only
  /// while `serving`. `start` sets it; `wait` clears it first (so that new calls fail at
  /// once and cannot starve it), then takes the lock alone before ending the system.
  std::shared_mutex lifetime;
  std::atomic<bool> serving{false};

  caf::error check_options();
  caf::error connect();
  caf::error prepare_topics(std::vector<int32_t>& partitions);
  caf::error start_consumer(env_ptr env);
  caf::error start_cluster(env_ptr env);
  void shutdown();
};

caf::error worker::impl::check_options() {
  auto bad = [](std::string what) { return make_error(errc::bad_config, std::move(what)); };
  if (opts.store != "memory://" && (opts.store.rfind("rocksdb://", 0) != 0
                                    || opts.store.size() == std::string{"rocksdb://"}.size()))
    return bad("store '" + opts.store + "': use memory:// or rocksdb://<directory>");
  if (opts.rocksdb_cache_mb < 1 || opts.rocksdb_write_buffer_mb < 1 || opts.table_cache_keys < 1)
    return bad("rocksdb_cache_mb, rocksdb_write_buffer_mb and table_cache_keys must be positive");
  if (opts.processing_guarantee != "at_least_once" && opts.processing_guarantee != "exactly_once")
    return bad("processing_guarantee '" + opts.processing_guarantee
               + "': use at_least_once or exactly_once");
  if (opts.exactly_once() && opts.broker == "embedded")
    return bad("processing_guarantee exactly_once needs a real Kafka broker: the embedded "
               "broker (librdkafka's mock cluster) does not isolate transactions, so "
               "exactly-once could not be kept; use kafka://host:port or at_least_once");
  if (opts.commit_interval_ms == 0)
    opts.commit_interval_ms = opts.exactly_once() ? 100 : 1000;
  if (opts.topic_partitions < 1)
    return bad("topic_partitions must be at least 1");
  if (opts.batch_size < 1 || opts.batches_in_flight < 1)
    return bad("batch_size and batches_in_flight must be at least 1");
  if (opts.session_timeout_ms < 1000)
    return bad("session_timeout_ms must be at least 1000 (the broker's minimum is 6000 by "
               "default)");
  if (opts.commit_interval_ms < 0 || opts.startup_timeout_ms < 1
      || opts.recovery_stall_timeout_ms < 1 || opts.drain_timeout_ms < 1)
    return bad("intervals and timeouts must be positive");
  if (opts.threads < 0)
    return bad("threads must be 0 (one per core) or more");
  if (opts.retry_attempts < 1 || opts.retry_backoff_ms < 0
      || opts.retry_backoff_max_ms < opts.retry_backoff_ms)
    return bad("retry_attempts must be at least 1 and 0 <= retry_backoff_ms <= "
               "retry_backoff_max_ms");
  if (topo->agents.empty())
    return bad("the app declares no agent");
  auto shared = topo->table_shared_by_topics();
  if (opts.partition_assignor == "auto")
    opts.partition_assignor = shared.empty() ? "cooperative-sticky" : "range";
  else if (opts.partition_assignor == "cooperative-sticky" && !shared.empty())
    return bad("partition_assignor cooperative-sticky: table " + shared + " is used by agents "
               "of two topics, whose partitions must stay on the same instance; only range "
               "guarantees that (use range or auto)");
  else if (opts.partition_assignor != "range" && opts.partition_assignor != "cooperative-sticky")
    return bad("partition_assignor '" + opts.partition_assignor
               + "': use auto, cooperative-sticky or range");
  if (opts.table_standby_replicas < 0)
    return bad("table_standby_replicas must be 0 (none) or more");
  return caf::none;
}

caf::error worker::impl::connect() {
  if (opts.broker == "embedded") {
    embedded = std::make_unique<kafka::embedded_broker>();
    if (auto err = embedded->start())
      return err;
    // The embedded broker creates external topics too (default partitions if undeclared).
    for (auto& spec : topo->topic_specs(opts.topic_partitions)) {
      auto n = spec.partitions > 0 ? spec.partitions : opts.topic_partitions;
      if (auto err = embedded->create_topic(spec.name, n))
        return err;
    }
    bootstrap = embedded->bootstrap();
    log().info("embedded Kafka broker (librdkafka mock) listening: --broker {}",
               embedded->url());
    if (!opts.bootstrap_file.empty())
      embedded->publish_url(opts.bootstrap_file);
    return caf::none;
  }
  auto bs = kafka::parse_broker_url(opts.broker);
  if (!bs)
    return bs.error();
  bootstrap = *bs;
  return caf::none;
}

caf::error worker::impl::prepare_topics(std::vector<int32_t>& partitions) {
  auto specs = topo->topic_specs(opts.topic_partitions);
  auto timeout = std::chrono::milliseconds(opts.startup_timeout_ms);
  // A client of its own, without topic handles: a producer's topic handle asks for
  // metadata, and a broker with auto.create.topics.enable would create the topic with its
  // defaults (a changelog without compaction) before we create it right.
  auto conf = kafka::make_conf({{"bootstrap.servers", bootstrap},
                                {"client.id", topo->app_id + "-admin"}});
  if (!conf)
    return conf.error();
  auto admin = kafka::make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!admin)
    return admin.error();
  if (auto err = kafka::ensure_topics(admin->get(), specs, timeout))
    return err;
  partitions.clear();
  for (size_t i = 0; i < topo->topics.size(); ++i)
    partitions.push_back(specs[i].partitions);
  for (size_t t = 0; t < topo->tables.size(); ++t) // then the tables', after the topics
    partitions.push_back(specs[topo->topics.size() + t].partitions);
  // Co-partitioning: table partition p serves events of partition p.
  for (auto& a : topo->agents) {
    for (auto t : a.tables) {
      auto table_parts = specs[topo->topics.size() + t].partitions;
      if (table_parts != partitions[a.topic])
        return make_error(errc::topic_mismatch,
                          "agent " + a.name + " uses table " + topo->tables[t].name + " ("
                            + std::to_string(table_parts) + " partitions) on topic "
                            + topo->topics[a.topic].kafka_name + " ("
                            + std::to_string(partitions[a.topic])
                            + " partitions): they must be co-partitioned");
    }
  }
  return caf::none;
}

caf::error worker::impl::start_cluster(env_ptr env) {
  auto colon = opts.cluster_listen.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    try {
      port = std::stoi(opts.cluster_listen.substr(colon + 1));
    } catch (...) {
    }
  }
  if (colon == std::string::npos || port < 0 || port > 65535)
    return make_error(errc::bad_config, "cluster_listen '" + opts.cluster_listen
                                          + "': use host:port (port 0: any free one) or off");
  auto host = opts.cluster_listen.substr(0, colon);
  // Published before it knows its own address (the port may be picked now); it starts
  // talking to peers once told.
  cluster_actor = sys->spawn(cluster, env, manager, cluster_middleman(*sys, opts), standby);
  auto bound = publish_cluster(*sys, cluster_actor, host, static_cast<uint16_t>(port), opts);
  if (!bound)
    return bound.error();
  cluster_address = host + ":" + std::to_string(*bound);
  caf::anon_send(cluster_actor, listen_atom::value, cluster_address);
  log().info("cluster: listening on {}{}{}", cluster_address, opts.cluster_tls() ? " (TLS)" : "",
             opts.cluster_seeds.empty() ? std::string{} : ", seeds " + opts.cluster_seeds);
  return caf::none;
}

caf::error worker::impl::start_consumer(env_ptr env) {
  group = std::make_shared<group_consumer_data>();
  group->env = env;
  group->manager = manager;
  auto conf = kafka::make_conf({
    {"bootstrap.servers", bootstrap},
    {"group.id", topo->app_id},
    {"client.id", topo->app_id + "-consumer"},
    {"partition.assignment.strategy", opts.partition_assignor},
    {"enable.auto.commit", "false"},
    {"enable.auto.offset.store", "false"},
    {"auto.offset.reset", "earliest"},
    {"enable.partition.eof", "false"},
    {"isolation.level", "read_committed"},
    {"session.timeout.ms", std::to_string(opts.session_timeout_ms)},
    {"heartbeat.interval.ms", std::to_string(std::min(1000, opts.session_timeout_ms / 3))},
    {"fetch.wait.max.ms", "100"},
    {"queued.max.messages.kbytes", "16384"},
  });
  if (!conf)
    return conf.error();
  if (!opts.instance_id.empty()) {
    char errstr[256];
    if (rd_kafka_conf_set(conf->get(), "group.instance.id", opts.instance_id.c_str(), errstr,
                          sizeof errstr)
        != RD_KAFKA_CONF_OK)
      return make_error(errc::bad_config, std::string{"instance_id: "} + errstr);
  }
  rd_kafka_conf_set_rebalance_cb(conf->get(), group_rebalance_cb);
  rd_kafka_conf_set_offset_commit_cb(conf->get(), group_commit_cb);
  rd_kafka_conf_set_opaque(conf->get(), group.get());
  auto rk = kafka::make_handle(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!rk)
    return rk.error();
  group->rk = rk->release();
  rd_kafka_poll_set_consumer(group->rk);
  consumer = sys->spawn(group_consumer, group);
  return caf::none;
}

worker::worker(std::shared_ptr<const topology> topo, worker_options opts)
  : impl_(std::make_unique<impl>()) {
  impl_->topo = std::move(topo);
  impl_->opts = std::move(opts);
}

worker::~worker() {
  if (impl_->started && !impl_->finished) {
    stop();
    wait();
  }
  impl_->shutdown();
}

void worker::impl::shutdown() {
  if (cluster_actor)
    caf::anon_send_exit(cluster_actor, caf::exit_reason::user_shutdown);
  if (standby) // a blocking actor: the system would wait for it forever
    caf::anon_send(standby, close_atom::value);
  cluster_actor = nullptr;
  standby = nullptr;
  manager = nullptr;
  consumer = nullptr;
  sys.reset(); // waits for every actor
  producer.stop(10000);
  embedded.reset();
}

caf::error worker::start() {
  auto& d = *impl_;
  if (!set_log_level(d.opts.log_level))
    return make_error(errc::bad_config, "log_level '" + d.opts.log_level + "' is unknown");
  if (auto err = d.check_options())
    return err;
  if (auto err = d.connect())
    return err;
  std::vector<int32_t> partitions;
  if (auto err = d.prepare_topics(partitions))
    return err;
  // Exactly-once: one transactional producer per instance. A static instance id gives a
  // stable transactional id, so a restarted instance fences its killed predecessor and
  // aborts its open transaction at once; otherwise the id is unique per process and a
  // dead instance's open transaction ends by timeout (10 s).
  std::string txn_id;
  if (d.opts.exactly_once()) {
    txn_id = d.topo->app_id + "-"
             + (d.opts.instance_id.empty()
                  ? "p" + std::to_string(::getpid()) + "-"
                      + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count())
                  : d.opts.instance_id);
  }
  if (auto err = d.producer.start(d.bootstrap, d.topo->producer_topics(),
                                  {{"linger.ms", std::to_string(d.opts.linger_ms)}}, txn_id))
    return err;
  auto env = std::make_shared<worker_env>();
  env->topo = d.topo;
  env->opts = d.opts;
  env->bootstrap = d.bootstrap;
  env->producer = &d.producer;
  env->partitions.assign(partitions.begin(), partitions.begin() + d.topo->topics.size());
  env->table_partitions.assign(partitions.begin() + d.topo->topics.size(), partitions.end());
  env->stats = d.stats;
  if (d.opts.store.rfind("rocksdb://", 0) == 0)
    env->rocks = std::make_shared<rocksdb_env>(
      d.opts.store.substr(std::string{"rocksdb://"}.size()) + "/" + d.topo->app_id,
      size_t(d.opts.rocksdb_cache_mb) << 20, size_t(d.opts.rocksdb_write_buffer_mb) << 20);
  d.cfg = std::make_unique<caf::actor_system_config>();
  auto threads = d.opts.threads > 0 ? d.opts.threads
                                    : static_cast<int>(std::thread::hardware_concurrency());
  d.cfg->set("scheduler.max-threads", std::max(1, threads));
  bool clustered = d.opts.cluster_listen != "off";
  if (clustered) {
    if (auto err = configure_cluster(*d.cfg, d.opts))
      return err;
    // Heartbeats on: a hung peer's connection times out (off by default in CAF 0.17).
    d.cfg->set("middleman.heartbeat-interval",
               caf::timespan{std::chrono::milliseconds(d.opts.cluster_heartbeat_ms)});
    d.cfg->set("middleman.connection-timeout",
               caf::timespan{std::chrono::milliseconds(d.opts.cluster_timeout_ms)});
  }
  d.sys = std::make_unique<caf::actor_system>(*d.cfg);
  // Standby replicas need the cluster (it places them) and something to keep warm.
  if (clustered && d.opts.table_standby_replicas > 0 && !d.topo->tables.empty())
    d.standby = d.sys->spawn(standby_replicas, env_ptr{env});
  d.manager = d.sys->spawn(manager, env_ptr{env}, d.standby);
  if (clustered) {
    if (auto err = d.start_cluster(env)) {
      caf::anon_send_exit(d.manager, caf::exit_reason::kill);
      return err;
    }
  }
  if (auto err = d.start_consumer(env)) {
    caf::anon_send_exit(d.manager, caf::exit_reason::kill);
    return err;
  }
  d.started = true;
  d.serving = true;
  log().info("worker {} started: broker {}, {} agents, {} tables, {}, store {}, assignor {}",
             d.topo->app_id, d.bootstrap, d.topo->agents.size(), d.topo->tables.size(),
             d.opts.processing_guarantee, d.opts.store, d.opts.partition_assignor);
  return caf::none;
}

void worker::stop() {
  std::shared_lock<std::shared_mutex> guard{impl_->lifetime};
  if (impl_->serving)
    caf::anon_send(impl_->consumer, halt_atom::value);
}

caf::error worker::wait() {
  auto& d = *impl_;
  if (!d.started || d.finished)
    return d.failure;
  {
    caf::scoped_actor self{*d.sys};
    self->monitor(d.consumer);
    self->monitor(d.manager);
    bool consumer_done = false;
    while (!consumer_done) {
      self->receive([&](caf::down_msg& dm) {
        if (dm.source == d.consumer.address()) {
          consumer_done = true;
        } else if (dm.source == d.manager.address()) {
          if (dm.reason && dm.reason != caf::exit_reason::normal && !d.failure)
            d.failure = dm.reason;
          caf::anon_send(d.consumer, halt_atom::value);
        }
      });
    }
    caf::anon_send(d.manager, halt_atom::value);
  }
  d.serving = false;
  { std::unique_lock<std::shared_mutex> in_flight_calls_done{d.lifetime}; }
  d.finished = true;
  d.shutdown();
  auto& s = *d.stats;
  log().info("worker {} stopped{}: {} events, {} undecodable, {} failed, {} retries, "
             "{} dead letters, {} sent, {} commits, {} restarts, {} aborts, "
             "{} standby records, {} standby handovers",
             d.topo->app_id, d.failure ? " (" + render(d.failure) + ")" : std::string{},
             s.events.load(), s.decode_errors.load(), s.failures.load(), s.retries.load(),
             s.dead_letters.load(), s.sent.load(), s.commits.load(), s.restarts.load(),
             s.aborts.load(), s.standby_records.load(), s.standby_handovers.load());
  return d.failure;
}

const std::string& worker::cluster_address() const {
  return impl_->cluster_address;
}

expected<std::optional<std::string>>
worker::table_get(const std::string& table, const std::string& key,
                  std::chrono::milliseconds timeout) {
  // The asynchronous lookup, waited for: its actor answers within `timeout`, and the
  // actor system lives until it did.
  auto answer = std::make_shared<std::promise<table_get_result>>();
  auto result = answer->get_future();
  table_get_async(table, key, [answer](table_get_result got) { answer->set_value(std::move(got)); },
                  timeout);
  return result.get();
}

void worker::table_get_async(const std::string& table, const std::string& key,
                             std::function<void(table_get_result)> done,
                             std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  std::shared_lock<std::shared_mutex> guard{d.lifetime};
  if (!d.serving) {
    done(make_error(errc::bad_config, "the worker is not running"));
    return;
  }
  if (!d.cluster_actor) {
    done(make_error(errc::bad_config, "table_get needs the cluster (cluster_listen is off)"));
    return;
  }
  // One short-lived actor per lookup: it lives until the answer or the timeout.
  d.sys->spawn([cluster = d.cluster_actor, secret = d.opts.cluster_secret, table, key, timeout,
                done = std::move(done)](caf::event_based_actor* self) {
    self->request(cluster, timeout, lookup_atom::value, secret, table, key, false)
      .then(
        [done](bool found, std::string& value) {
          done(found ? std::optional<std::string>{std::move(value)} : std::nullopt);
        },
        [done](caf::error& err) { done(std::move(err)); });
  });
}

const std::string& worker::bootstrap() const {
  return impl_->bootstrap;
}

const worker_stats& worker::stats() const {
  return *impl_->stats;
}

expected<std::vector<std::pair<std::string, std::string>>>
worker::table_snapshot(const std::string& table, std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  uint32_t index = 0;
  for (; index < d.topo->tables.size(); ++index)
    if (d.topo->tables[index].name == table)
      break;
  if (index == d.topo->tables.size())
    return make_error(errc::bad_config, "no table named " + table);
  std::shared_lock<std::shared_mutex> guard{d.lifetime};
  if (!d.serving)
    return make_error(errc::bad_config, "the worker is not running");
  caf::scoped_actor self{*d.sys};
  expected<table_rows> result{table_rows{}};
  self->request(d.manager, timeout, snapshot_atom::value, index)
    .receive([&](table_rows& rows) { result = std::move(rows); },
             [&](caf::error& err) { result = std::move(err); });
  return result;
}

} // namespace mephisto
