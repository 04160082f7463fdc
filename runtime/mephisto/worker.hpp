#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "mephisto/actor_api.hpp"
#include "mephisto/agent_asker.hpp"
#include "mephisto/app.hpp"
#include "mephisto/error.hpp"
#include "mephisto/lifecycle.hpp"
#include "mephisto/options.hpp"
#include "mephisto/topology.hpp"
#include "mephisto/worker_stats.hpp"

namespace mephisto {

/// Prepares the configuration of an actor system that will run workers (call it before
/// making the system): loads CAF's io middleman, registers the one message type instances
/// exchange, loads CAF's OpenSSL module when `opts` has `cluster_tls_*`, and turns on the
/// middleman's heartbeats (`cluster_heartbeat_ms`, `cluster_timeout_ms`). The user's own
/// settings (scheduler threads, ...) are left alone. Fails on incomplete TLS settings.
caf::error configure(caf::actor_system_config& cfg, const worker_options& opts = {});

/// One running instance of an app: its broker connection (or embedded broker), its
/// producer, its group consumer and the actors for the partitions it is assigned.
///
/// Two ways to run one:
/// - **owning** (`worker(topo, opts)`, what `app::main` does): the worker makes its own
///   actor system with `threads` scheduler threads and ends it when it stops;
/// - **embedded** (`worker(sys, app, opts)`): it spawns all its actors into `sys`, an actor
///   system the caller made (after `mephisto::configure(cfg, opts)`) and that outlives the
///   worker. Stopping the worker ends only its own actors: the system and the caller's
///   actors go on. Any number of workers (of one app or several) may share a system; each
///   needs its own cluster port (`cluster_listen` port 0 picks a free one) or
///   `cluster_listen = off`.
///
/// Threads either way: the system's scheduler runs every event-based actor; besides it a
/// worker starts one thread for its group consumer, one for the producer's delivery
/// reports, one per table partition while it recovers and one for standby replicas (when
/// on); none of them blocks a scheduler thread.
///
/// Owned by the thread that creates it. `start` and `wait` are called from that thread;
/// `stop`, the lookups, snapshots and counters from any thread, also while `wait` ends
/// the worker (they then fail with "the worker is not running"; `wait` lets the calls in
/// flight finish first).
class worker {
public:
  /// An owning worker: it makes its own actor system.
  worker(std::shared_ptr<const topology> topo, worker_options opts);

  /// An embedded worker of `topo` in `sys` (see the class comment).
  worker(caf::actor_system& sys, std::shared_ptr<const topology> topo, worker_options opts);

  /// An embedded worker of `a` (renamed for `opts.id`) in `sys`.
  worker(caf::actor_system& sys, const app& a, worker_options opts);

  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;
  ~worker();

  /// Connects (or starts the embedded broker), checks and creates topics, starts the
  /// actors and joins the consumer group. Fails with a clear error (bad options,
  /// unreachable broker, missing source topic, partition mismatch) without hanging.
  caf::error start();

  /// Asks for a clean stop: revoke everything (drain, final commit), then shut down.
  void stop();

  /// Blocks until the worker stopped; returns why it stopped on its own (none after `stop`).
  caf::error wait();

  /// Kafka bootstrap servers in use (`host:port,...`).
  const std::string& bootstrap() const;

  /// Counters (events, errors, commits, assigned partitions, ...).
  const worker_stats& stats() const;

  /// A copy of every partition of `table` this worker holds, keys and values encoded.
  expected<std::vector<std::pair<std::string, std::string>>>
  table_snapshot(const std::string& table,
                 std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// The value of `key` (encoded, e.g. the raw string for string keys) in `table`, from
  /// whichever instance holds the key's partition (the cluster routes it): the encoded
  /// value, nullopt when absent, or an error (`not_ready` while the partition recovers,
  /// `not_owned` when no live instance holds it).
  expected<std::optional<std::string>>
  table_get(const std::string& table, const std::string& key,
            std::chrono::milliseconds timeout = std::chrono::seconds(10));

  /// What `table_get_async` hands its callback.
  using table_get_result = expected<std::optional<std::string>>;

  /// As `table_get`, without blocking: `done` gets the answer (or the error) once, on one of
  /// the worker's scheduler threads, so it must not block. Any number may be in flight.
  void table_get_async(const std::string& table, const std::string& key,
                       std::function<void(table_get_result)> done,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));

  /// `host:port` of this worker's web server (`web_listen`; empty when off). Set by `start`.
  const std::string& web_address() const;

  /// `host:port` of this worker's cluster actor (empty when the cluster is off).
  const std::string& cluster_address() const;

  // -- for actors ---------------------------------------------------------------------

  /// The running worker as an actor, to `monitor` or `link_to`: it ends when the worker
  /// stopped, with reason `normal` after `stop`, or with the error that stopped it (its
  /// partitions' manager failed). Null before `start`.
  caf::actor as_actor() const;

  /// Sends `subscriber` every `lifecycle_event` of this worker from now on (before `start`:
  /// from the beginning), `stopped` last. Until the subscriber ends.
  void subscribe_lifecycle(caf::actor subscriber);

  /// The actor system the worker's actors run in (its own, or the caller's).
  caf::actor_system& system();

  /// A writer of topic `t` for the caller's actors (see `topic_writer`): at most
  /// `max_in_flight` of its records in the producer at a time. Each call makes a new
  /// writer actor; it ends with the worker. Call after `start`.
  template <class K, class V>
  expected<topic_writer<K, V>> writer(const topic<K, V>& t, size_t max_in_flight = 1000) {
    auto core = make_writer_core(t.index());
    if (!core)
      return core.error();
    auto handle = system().spawn(detail::topic_writer_actor<K, V>, std::move(*core),
                                 max_in_flight < 1 ? size_t{1} : max_in_flight);
    return caf::actor_cast<topic_writer<K, V>>(handle);
  }

  /// Delivers the records of topic `t` (every partition, from its end or its beginning, see
  /// `subscription_options`) to `subscriber` as `record_batch<K, V>` requests, one credit
  /// per batch (see `record_batch`). Only committed records under exactly-once. Returns the
  /// subscription's actor: it ends with the worker, with the subscriber, or when sent an
  /// exit. Call after `start`.
  template <class K, class V>
  expected<caf::actor> subscribe(const topic<K, V>& t, caf::actor subscriber,
                                 subscription_options opts = {}) {
    auto core = make_subscription_core(t.index(), opts);
    if (!core)
      return core.error();
    return system().spawn(detail::subscription_actor<K, V>, std::move(*core),
                          std::move(subscriber), opts);
  }

  /// An asker of the agents of topic `t` whose replies (`ctx.reply(R)`) are `R`; a request
  /// without a reply within `timeout` fails (see `agent_asker`). Each call makes a new
  /// asker actor; it ends with the worker. Call after `start`.
  template <class R, class K, class V>
  expected<agent_asker<K, V, R>> asker(const topic<K, V>& t,
                                       std::chrono::milliseconds timeout
                                       = std::chrono::seconds(30)) {
    auto core = make_writer_core(t.index());
    if (!core)
      return core.error();
    auto handle = system().spawn(detail::agent_asker_actor<K, V, R>, std::move(*core),
                                 reply_token(), timeout);
    return caf::actor_cast<agent_asker<K, V, R>>(handle);
  }

  /// A reader of table `t` for the caller's actors (see `table_reader`); each lookup is
  /// answered within `timeout`. Needs the cluster (`cluster_listen` not off). Each call
  /// makes a new reader actor; it ends with the worker. Call after `start`.
  template <class K, class V>
  expected<table_reader<K, V>> reader(const table<K, V>& t,
                                      std::chrono::milliseconds timeout
                                      = std::chrono::seconds(10)) {
    auto cluster = lookup_service();
    if (!cluster)
      return cluster.error();
    auto handle = system().spawn(detail::table_reader_actor<K, V>, std::move(*cluster),
                                 as_actor(), cluster_secret(), t.name(), timeout);
    return caf::actor_cast<table_reader<K, V>>(handle);
  }

  /// What the worker holds (defined by the library, opaque here).
  struct impl;

private:
  expected<std::shared_ptr<detail::writer_core>> make_writer_core(uint32_t topic);
  expected<caf::actor> lookup_service() const;
  expected<std::shared_ptr<detail::subscription_core>>
  make_subscription_core(uint32_t topic, const subscription_options& opts);
  const std::string& cluster_secret() const;
  std::string reply_token() const;

  std::unique_ptr<impl> impl_;
};

} // namespace mephisto
