#include "mephisto/actors/worker_impl.hpp"

#include <chrono>
#include <string>
#include <vector>

#include "mephisto/error.hpp"
#include "mephisto/host_port.hpp"
#include "mephisto/kafka/admin.hpp"
#include "mephisto/kafka/config.hpp"
#include "mephisto/log.hpp"
#include "web/http_server.hpp"
#include "web/web_views.hpp"

// What a worker checks and prepares before it starts any actor: its options, the broker
// connection (or the embedded broker) and its topics.

namespace mephisto {

caf::error worker::impl::listen_web(worker& self) {
  if (opts.web_listen == "off")
    return caf::none;
  auto where = parse_host_port(opts.web_listen, "web_listen", true);
  if (!where)
    return where.error();
  auto server = web::http_server::listen(*where, "web_listen", web::make_web_views(self, *this));
  if (!server)
    return server.error();
  web = std::move(*server);
  return caf::none;
}

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
  if (auto seeds = parse_host_port_list(opts.cluster_seeds, "cluster_seeds"); !seeds)
    return seeds.error();
  return kafka::check_client_properties(opts.client_properties);
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

namespace {

/// Whether the cluster names a controller among its brokers.
bool has_controller(rd_kafka_t* rk, std::chrono::milliseconds timeout) {
  auto controller = rd_kafka_controllerid(rk, static_cast<int>(timeout.count()));
  const rd_kafka_metadata_t* md = nullptr;
  if (controller < 0
      || rd_kafka_metadata(rk, 0, nullptr, &md, static_cast<int>(timeout.count()))
           != RD_KAFKA_RESP_ERR_NO_ERROR)
    return false;
  bool found = false;
  for (int i = 0; i < md->broker_cnt; ++i)
    found = found || md->brokers[i].id == controller;
  rd_kafka_metadata_destroy(md);
  return found;
}

} // namespace

caf::error worker::impl::prepare_topics(std::vector<int32_t>& partitions) {
  auto specs = topo->topic_specs(opts.topic_partitions);
  auto timeout = std::chrono::milliseconds(opts.startup_timeout_ms);
  // Tables fed from an external topic take its partition count: read the topics first.
  bool follows_external = false;
  for (size_t t = 0; t < topo->tables.size(); ++t)
    follows_external = follows_external || specs[topo->topics.size() + t].partitions == 0;
  // A refused login shows only as an error event; the metadata request just times out.
  kafka::auth_watch auth;
  auto admin = kafka::make_admin_client(bootstrap, topo->app_id + "-admin",
                                        opts.client_properties, &auth);
  if (!admin)
    return admin.error();
  auto ensure = [&](std::vector<kafka::topic_spec>& some) -> caf::error {
    if (auto err = kafka::ensure_topics(admin->get(), some, timeout)) {
      if (auto refused = auth.failure(admin->get()); !refused.empty())
        return make_error(errc::authentication_failed,
                          "Kafka authentication failed (" + refused + "); check the "
                          "kafka.sasl.* / kafka.ssl.* client properties");
      return err;
    }
    return caf::none;
  };
  if (follows_external) {
    std::vector<kafka::topic_spec> sources(specs.begin(),
                                           specs.begin() + static_cast<std::ptrdiff_t>(
                                                             topo->topics.size()));
    if (auto err = ensure(sources))
      return err;
    std::copy(sources.begin(), sources.end(), specs.begin());
    for (size_t t = 0; t < topo->tables.size(); ++t)
      if (auto fed = topo->tables[t].fed_by; fed >= 0)
        if (auto& spec = specs[topo->topics.size() + t]; spec.partitions == 0)
          spec.partitions = sources[static_cast<size_t>(fed)].partitions;
  }
  if (auto err = ensure(specs))
    return err;
  // The topics' size limits, so that an output too large is dead-lettered when sent
  // instead of failing its batch at the broker (the embedded broker has no
  // DescribeConfigs: only the producer's own limit applies there).
  // A cluster whose controller is none of its brokers cannot answer DescribeConfigs
  // (librdkafka's mock names controller 0 and brokers 1..n; so also when reached through
  // its URL); one that refuses (e.g. ACLs) leaves the limits unknown: a warning, not a
  // reason to stop.
  if (!embedded && has_controller(admin->get(), timeout)) {
    auto limits = kafka::max_message_bytes(admin->get(), topo->producer_topics(), timeout);
    if (limits)
      max_message_bytes = std::move(*limits);
    else
      log().warn("cannot read the topics' max.message.bytes ({}): only the producer's "
                 "message.max.bytes bounds the records",
                 render(limits.error()));
  }
  partitions.clear();
  for (size_t i = 0; i < topo->topics.size(); ++i)
    partitions.push_back(specs[i].partitions);
  for (size_t t = 0; t < topo->tables.size(); ++t) // then the tables', after the topics
    partitions.push_back(specs[topo->topics.size() + t].partitions);
  // Co-partitioning: table partition p serves events of partition p.
  for (size_t a = 0; a < topo->agents.size(); ++a) {
    for (auto t : topo->agents[a].tables) {
      auto fed = topo->tables[t].fed_by;
      auto why = topo->co_partitioning_error(
        a, t, partitions[topo->agents[a].topic], specs[topo->topics.size() + t].partitions,
        fed >= 0 ? partitions[static_cast<size_t>(fed)] : 0);
      if (!why.empty())
        return make_error(errc::topic_mismatch, why);
    }
  }
  return caf::none;
}

} // namespace mephisto
