#include "mephisto/worker.hpp"
#include "mephisto/actors/worker_impl.hpp"
#include "mephisto/actors/worker_runner.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
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
#include <caf/openssl/manager.hpp>
#include <caf/scoped_actor.hpp>

#include "mephisto/actors/env.hpp"
#include "mephisto/actors/cluster.hpp"
#include "mephisto/actors/global_tables.hpp"
#include "mephisto/actors/group_consumer.hpp"
#include "mephisto/actors/instance_timers.hpp"
#include "mephisto/actors/partition_manager.hpp"
#include "mephisto/actors/standby.hpp"
#include "mephisto/kafka/admin.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/kafka/producer.hpp"
#include "mephisto/agent_asker.hpp"
#include "mephisto/host_port.hpp"
#include "mephisto/lifecycle.hpp"
#include "mephisto/log.hpp"
#include "web/http_server.hpp"

namespace mephisto {


caf::error worker::impl::start_cluster(env_ptr env) {
  auto listen = parse_host_port(opts.cluster_listen, "cluster_listen", true);
  if (!listen)
    return listen.error();
  auto& host = listen->host;
  auto port = listen->port;
  // Published before it knows its own address (the port may be picked now); it starts
  // talking to peers once told.
  cluster_member = sys->spawn(cluster, env, manager, cluster_middleman(*sys, opts), standby);
  auto bound = publish_cluster(*sys, caf::actor_cast<caf::actor>(cluster_member), host, static_cast<uint16_t>(port), opts);
  if (!bound)
    return bound.error();
  cluster_port = *bound;
  cluster_address = host + ":" + std::to_string(*bound);
  caf::anon_send(cluster_member, listen_atom::value, cluster_address);
  log().info("cluster: listening on {}{}{}", cluster_address, opts.cluster_tls() ? " (TLS)" : "",
             opts.cluster_seeds.empty() ? std::string{} : ", seeds " + opts.cluster_seeds);
  return caf::none;
}

caf::error worker::impl::start_consumer(env_ptr env) {
  group = std::make_shared<group_consumer_data>();
  group->env = env;
  group->manager = manager;
  auto conf = kafka::make_conf(kafka::with_client_properties({
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
    // As the producer's: back within a second of a broker that refused connections.
    {"reconnect.backoff.max.ms", "1000"},
  }, opts.client_properties, kafka::client_kind::consumer));
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
  consumer = caf::actor_cast<group_consumer_actor>(sys->spawn(group_consumer, group));
  return caf::none;
}

worker::worker(std::shared_ptr<const topology> topo, worker_options opts)
  : impl_(std::make_unique<impl>()) {
  impl_->topo = std::move(topo);
  impl_->opts = std::move(opts);
  impl_->stats = std::make_shared<worker_stats>(impl_->topo ? impl_->topo->agents.size() : 0);
}

worker::worker(caf::actor_system& sys, std::shared_ptr<const topology> topo,
               worker_options opts)
  : worker(std::move(topo), std::move(opts)) {
  impl_->sys = &sys;
}

worker::worker(caf::actor_system& sys, const app& a, worker_options opts)
  : worker(sys, a.resolve(opts), opts) {
}

worker::~worker() {
  if (impl_->started && !impl_->finished) {
    stop();
    wait();
  }
  impl_->shutdown();
}

void worker::impl::shutdown() {
  if (web) // first: its pages use the actors
    web->stop();
  if (cluster_member) {
    if (!owned_sys) { // the caller's system goes on: free the port
      // (caf::openssl::unpublish of CAF 0.17.6 does not compile: it omits the address.)
      auto mm = opts.cluster_tls() ? sys->openssl_manager().actor_handle()
                                   : sys->middleman().actor_handle();
      caf::anon_send(mm, caf::unpublish_atom::value, cluster_member.address(), cluster_port);
    }
    caf::anon_send_exit(cluster_member, caf::exit_reason::user_shutdown);
  }
  if (standby) // a blocking actor: it would run forever
    caf::anon_send(standby, close_atom::value);
  if (global_follower) // the same
    caf::anon_send(global_follower, close_atom::value);
  if (timers_everywhere)
    caf::anon_send_exit(timers_everywhere, caf::exit_reason::user_shutdown);
  timers_everywhere = nullptr;
  cluster_member = nullptr;
  standby = nullptr;
  global_follower = nullptr;
  manager = nullptr;
  consumer = nullptr;
  group.reset();
  if (owned_sys) {
    runner = nullptr;
    owned_sys.reset(); // waits for every actor
  }
  else if (sys != nullptr)
    wait_for_actors();
  if (writer_producer)
    writer_producer->stop(10000);
  producer.stop(10000);
  embedded.reset();
}

void worker::impl::wait_for_actors() {
  // Every actor of this worker (and every topic writer) holds the env: once it expired,
  // none of them can touch the producer or a store any more.
  auto since = std::chrono::steady_clock::now();
  auto next_log = since + std::chrono::seconds(10);
  while (!env_alive.expired()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (std::chrono::steady_clock::now() >= next_log) {
      log().warn("worker {}: {} actors still running {} s after the stop", topo->app_id,
                 env_alive.use_count(),
                 std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::steady_clock::now() - since).count());
      next_log += std::chrono::seconds(10);
    }
  }
}

caf::error worker::impl::check_system() {
  auto missing = [](std::string what) {
    return make_error(errc::bad_config, "the actor system given to the worker " + what
                                          + ": call mephisto::configure(cfg, opts) on its "
                                            "configuration before making it");
  };
  if (opts.threads != 0)
    log().info("worker {}: threads = {} ignored, the actor system is the caller's",
               topo->app_id, opts.threads);
  if (opts.cluster_listen == "off")
    return caf::none;
  if (!sys->has_middleman())
    return missing("has no io middleman (cluster_listen needs it; or set it off)");
  if (opts.cluster_tls() && !sys->has_openssl_manager())
    return missing("has no OpenSSL module (cluster_tls_* needs it)");
  if (sys->config().type_names_by_rtti.count(typeid(std::vector<int32_t>)) == 0)
    return missing("lacks the cluster's message types");
  auto heartbeat = caf::get_or(sys->config(), "middleman.heartbeat-interval", caf::timespan{0});
  if (heartbeat.count() == 0)
    log().warn("worker {}: the actor system's middleman sends no heartbeats: a hung peer is "
               "noticed only by the cluster's own pings (mephisto::configure turns them on)",
               topo->app_id);
  return caf::none;
}

caf::error worker::start() {
  auto& d = *impl_;
  if (!set_log_level(d.opts.log_level))
    return make_error(errc::bad_config, "log_level '" + d.opts.log_level + "' is unknown");
  if (auto err = d.check_options())
    return err;
  auto faults = fault_plan::parse(d.opts.inject_faults);
  if (!faults)
    return faults.error();
  if (auto err = d.listen_web(*this))
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
  d.producer.count_failures_in(&d.stats->produce_errors);
  if (auto err = d.producer.start(
        d.bootstrap, d.topo->producer_topics(),
        kafka::with_client_properties({{"linger.ms", std::to_string(d.opts.linger_ms)}},
                                      d.opts.client_properties, kafka::client_kind::producer),
        txn_id, d.max_message_bytes))
    return err;
  // Timers on every instance send outside the pipeline's transactions.
  if (!d.topo->instance_timers.empty())
    if (auto err = d.ensure_writer_producer())
      return err;
  auto env = std::make_shared<worker_env>();
  env->topo = d.topo;
  env->opts = d.opts;
  env->layout.bootstrap = d.bootstrap;
  env->services.producer = &d.producer;
  env->services.output = &d.producer;
  if (*faults) {
    log().warn("injecting faults (crash tests): {}", d.opts.inject_faults);
    env->services.faults = *faults;
    if ((*faults)->produce_fail_from.count() >= 0) {
      d.faulty = std::make_unique<faulty_output>(&d.producer, *faults);
      env->services.output = d.faulty.get();
    }
  }
  env->layout.partitions.assign(partitions.begin(), partitions.begin() + d.topo->topics.size());
  env->layout.table_partitions.assign(partitions.begin() + d.topo->topics.size(), partitions.end());
  env->report.stats = d.stats;
  if (d.opts.store.rfind("rocksdb://", 0) == 0)
    env->services.rocks = std::make_shared<rocksdb_env>(
      d.opts.store.substr(std::string{"rocksdb://"}.size()) + "/" + d.topo->app_id,
      size_t(d.opts.rocksdb_cache_mb) << 20, size_t(d.opts.rocksdb_write_buffer_mb) << 20,
      d.opts.rocksdb_direct_reads);
  // Global tables are loaded before anything consumes: no agent sees one half loaded.
  std::shared_ptr<global_tables_feed> globals;
  if (!d.topo->globals.empty()) {
    env->services.globals = global_tables_feed::make_stores(*d.topo);
    globals = std::make_shared<global_tables_feed>();
    if (auto err = globals->open(*env, env->services.globals))
      return err;
    if (auto err = globals->load(std::chrono::milliseconds(d.opts.startup_timeout_ms)))
      return err;
  }
  bool clustered = d.opts.cluster_listen != "off";
  if (d.sys == nullptr) { // owning: a system of its own
    d.cfg = std::make_unique<caf::actor_system_config>();
    auto threads = d.opts.threads > 0 ? d.opts.threads
                                      : static_cast<int>(std::thread::hardware_concurrency());
    d.cfg->set("scheduler.max-threads", std::max(1, threads));
    if (clustered)
      if (auto err = configure(*d.cfg, d.opts))
        return err;
    d.owned_sys = std::make_unique<caf::actor_system>(*d.cfg);
    d.sys = d.owned_sys.get();
  } else if (auto err = d.check_system()) {
    return err;
  }
  d.env_alive = env;
  d.runner = d.sys->spawn(worker_runner, std::move(d.lifecycle_subscribers));
  env->report.runner = d.runner;
  if (globals)
    d.global_follower = d.sys->spawn(follow_global_tables, env_ptr{env}, std::move(globals));
  // Standby replicas need the cluster (it places them) and something to keep warm.
  if (clustered && d.opts.table_standby_replicas > 0 && !d.topo->tables.empty())
    d.standby = caf::actor_cast<standby_actor>(d.sys->spawn(standby_replicas, env_ptr{env}));
  d.manager = d.sys->spawn(partition_manager, env_ptr{env}, d.standby);
  if (clustered) {
    if (auto err = d.start_cluster(env)) {
      caf::anon_send_exit(d.manager, caf::exit_reason::kill);
      caf::anon_send_exit(d.runner, caf::exit_reason::kill);
      return err;
    }
  }
  if (auto err = d.start_consumer(env)) {
    caf::anon_send_exit(d.manager, caf::exit_reason::kill);
    caf::anon_send_exit(d.runner, caf::exit_reason::kill);
    return err;
  }
  if (!d.topo->instance_timers.empty())
    d.timers_everywhere = d.sys->spawn(instance_timers, env_ptr{env},
                                       static_cast<kafka::record_sink*>(d.writer_producer.get()));
  caf::anon_send(d.runner, watch_atom::value, d.consumer, d.manager, d.cluster_member,
                 d.reply_token());
  d.started = true;
  d.serving = true;
  if (d.web) {
    d.web->start();
    log().info("web: http://{}/metrics, /health, /ready, /tables, /agents, /topology",
               d.web->address());
  }
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
    self->monitor(d.runner);
    self->receive([&](caf::down_msg& dm) {
      if (dm.reason && dm.reason != caf::exit_reason::normal)
        d.failure = dm.reason;
    });
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

} // namespace mephisto
