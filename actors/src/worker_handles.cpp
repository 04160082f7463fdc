// The worker's calls for other threads and for actors: lookups, snapshots, the handles of
// actor_api.hpp, and `configure`.
#include <future>
#include <mutex>
#include <shared_mutex>

#include <caf/scoped_actor.hpp>

#include <librdkafka/rdkafka.h>

#include "mephisto/actors/cluster.hpp"
#include "mephisto/actors/subscription.hpp"
#include "mephisto/actors/topic_writer_core.hpp"
#include "mephisto/actors/worker_impl.hpp"
#include "mephisto/log.hpp"
#include "mephisto/worker.hpp"
#include "web/http_server.hpp"

namespace mephisto {

caf::error configure(caf::actor_system_config& cfg, const worker_options& opts) {
  if (auto err = configure_cluster(cfg, opts))
    return err;
  // Heartbeats on: a hung peer's connection times out (off by default in CAF 0.17).
  cfg.set("middleman.heartbeat-interval",
          caf::timespan{std::chrono::milliseconds(opts.cluster_heartbeat_ms)});
  cfg.set("middleman.connection-timeout",
          caf::timespan{std::chrono::milliseconds(opts.cluster_timeout_ms)});
  return caf::none;
}

namespace {

/// The running worker's shared state, for a handle of `topic` (held by the handle, so that
/// the worker waits for it). Call with `d.lifetime` held.
expected<env_ptr> env_for_topic(const worker::impl& d, uint32_t topic) {
  if (!d.serving)
    return make_error(errc::stopped, "the worker is not running");
  auto env = d.env_alive.lock();
  if (!env || topic >= d.topo->topics.size())
    return make_error(errc::bad_config, "no such topic in this worker's app");
  return env;
}

} // namespace

caf::error worker::impl::ensure_writer_producer() {
  std::lock_guard<std::mutex> writers{writers_mtx};
  if (writer_producer)
    return caf::none;
  // Its own producer: never transactional, so an acknowledged record stays written
  // whatever happens to the pipeline's transactions.
  auto p = std::make_unique<kafka::producer>();
  p->count_failures_in(&stats->produce_errors);
  if (auto err = p->start(bootstrap, topo->producer_topics(),
                          kafka::with_client_properties(
                            {{"linger.ms", std::to_string(opts.linger_ms)},
                             {"client.id", topo->app_id + "-writer"}},
                            opts.client_properties, kafka::client_kind::producer)))
    return err;
  writer_producer = std::move(p);
  return caf::none;
}

expected<std::shared_ptr<detail::writer_core>> worker::make_writer_core(uint32_t topic) {
  auto& d = *impl_;
  std::shared_lock<std::shared_mutex> guard{d.lifetime};
  auto env = env_for_topic(d, topic);
  if (!env)
    return env.error();
  if (auto err = d.ensure_writer_producer())
    return err;
  return mephisto::make_writer_core(std::move(*env), d.writer_producer.get(), topic,
                                    caf::actor_cast<caf::actor>(d.runner));
}

expected<std::shared_ptr<detail::subscription_core>>
worker::make_subscription_core(uint32_t topic, const subscription_options& opts) {
  auto& d = *impl_;
  std::shared_lock<std::shared_mutex> guard{d.lifetime};
  auto env = env_for_topic(d, topic);
  if (!env)
    return env.error();
  return mephisto::make_subscription_core(std::move(*env), caf::actor_cast<caf::actor>(d.runner),
                                          topic, opts);
}

expected<caf::actor> worker::lookup_service() const {
  auto& d = *impl_;
  std::shared_lock<std::shared_mutex> guard{d.lifetime};
  if (!d.serving)
    return make_error(errc::stopped, "the worker is not running");
  if (!d.cluster_member)
    return make_error(errc::bad_config, "table lookups need the cluster (cluster_listen is off)");
  return caf::actor_cast<caf::actor>(d.cluster_member);
}

std::string worker::reply_token() const {
  return impl_->reply_token();
}

const std::string& worker::cluster_secret() const {
  return impl_->opts.cluster_secret;
}

void worker::subscribe_lifecycle(caf::actor subscriber) {
  auto& d = *impl_;
  std::shared_lock<std::shared_mutex> guard{d.lifetime};
  if (d.runner)
    caf::anon_send(d.runner, subscribe_atom::value, std::move(subscriber));
  else
    d.lifecycle_subscribers.push_back(std::move(subscriber));
}

caf::actor worker::as_actor() const {
  return caf::actor_cast<caf::actor>(impl_->runner);
}

caf::actor_system& worker::system() {
  return *impl_->sys;
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
  if (!d.cluster_member) {
    done(make_error(errc::bad_config, "table_get needs the cluster (cluster_listen is off)"));
    return;
  }
  // One short-lived actor per lookup: it lives until the answer or the timeout.
  d.sys->spawn([cluster = d.cluster_member, secret = d.opts.cluster_secret, table, key, timeout,
                done = std::move(done)](caf::event_based_actor* self) {
    self->request(cluster, timeout, lookup_atom::value, secret, table, key, false)
      .then(
        [done](bool found, std::string& value) {
          done(found ? std::optional<std::string>{std::move(value)} : std::nullopt);
        },
        [done](caf::error& err) { done(std::move(err)); });
  });
}

const std::string& worker::web_address() const {
  static const std::string none;
  return impl_->web ? impl_->web->address() : none;
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
