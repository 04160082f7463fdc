#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "mephisto/actors/env.hpp"
#include "mephisto/actors/group_consumer.hpp"
#include "mephisto/actors/instance_timers.hpp"
#include "mephisto/actors/protocols.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/kafka/producer.hpp"
#include "mephisto/worker.hpp"

namespace mephisto {

namespace web {
class http_server;
} // namespace web

/// What a `worker` holds (worker.cpp starts and stops it; worker_handles.cpp serves the
/// calls from other threads and actors).
struct worker::impl {
  std::shared_ptr<const topology> topo;
  worker_options opts;
  std::shared_ptr<worker_stats> stats = std::make_shared<worker_stats>();
  std::unique_ptr<kafka::embedded_broker> embedded;
  kafka::producer producer;
  std::unique_ptr<faulty_output> faulty;          ///< crash tests' produce failures
  std::string bootstrap;
  /// max.message.bytes of each topic the producer writes (producer_topics() order; -1:
  /// unknown, e.g. on the embedded broker, which has no DescribeConfigs).
  std::vector<int64_t> max_message_bytes;
  std::unique_ptr<caf::actor_system_config> cfg;  ///< owning mode only
  std::unique_ptr<caf::actor_system> owned_sys;   ///< owning mode only
  caf::actor_system* sys = nullptr;               ///< the one the actors run in
  worker_actor runner;                            ///< the worker as an actor
  std::vector<caf::actor> lifecycle_subscribers;  ///< until start hands them to `runner`
  std::weak_ptr<const worker_env> env_alive;      ///< expires when every actor let go
  uint16_t cluster_port = 0;
  std::mutex writers_mtx;                          ///< guards `writer_producer`
  std::unique_ptr<kafka::producer> writer_producer; ///< for topic writers, made on demand
  partition_manager_actor manager;
  group_consumer_actor consumer;
  cluster_actor cluster_member;                    ///< null: no cluster
  standby_actor standby;                           ///< null: no standby replicas
  caf::actor global_follower;                      ///< null: no global tables
  instance_timers_actor timers_everywhere;          ///< null: no timers on every instance
  std::string cluster_address;
  std::unique_ptr<web::http_server> web;           ///< null: `web_listen = off`
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

  /// This worker in the `mephisto.reply-to` header of an ask: its cluster address, or a
  /// token of its own without the cluster.
  std::string reply_token() const {
    return cluster_address.empty() ? "local-" + std::to_string(reinterpret_cast<uintptr_t>(this))
                                   : cluster_address;
  }

  caf::error check_options();
  caf::error check_system();
  void wait_for_actors();
  caf::error connect();
  /// Makes `writer_producer` unless it exists (topic writers, timers on every instance).
  caf::error ensure_writer_producer();
  caf::error prepare_topics(std::vector<int32_t>& partitions);
  caf::error start_consumer(env_ptr env);
  caf::error start_cluster(env_ptr env);
  /// Binds the web server (a port in use fails here, before anything else starts).
  caf::error listen_web(worker& self);
  void shutdown();
};


} // namespace mephisto
