#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "mephisto/actors/env.hpp"
#include "mephisto/actors/messages.hpp"
#include "mephisto/actors/protocols.hpp"

namespace mephisto {

/// Another instance of the same app, as this one sees it.
struct cluster_peer {
  cluster_actor handle;               ///< its cluster actor; null until connected
  std::vector<int32_t> owned;         ///< table partitions it holds: table, partition, ...
  std::chrono::steady_clock::time_point last_seen{};
  std::chrono::steady_clock::time_point last_attempt{};
  bool up = false;
  bool connecting = false;
};

/// State of the worker's cluster actor, published with CAF's io middleman on
/// `cluster_listen` so that the instances of one app find each other.
///
/// Membership: a new instance says `hello` (with the app's shared secret, its address and
/// the table partitions it holds) to its seeds, which answer with the peers they know; from
/// then on every instance pings every peer each `cluster_heartbeat_ms`. A peer that has not
/// pinged for `cluster_timeout_ms` (a hung process) or whose connection dropped is marked
/// down and reconnected to later. Messages without the right secret are refused and logged.
///
/// Lookups: `lookup` computes the key's table partition with Kafka's partitioner and asks
/// the local manager, or the live peer that holds the partition; a recovering partition
/// answers `not_ready`, an unheld one `not_owned`. Every remote request has a timeout.
///
/// Standby replicas: every tick, from the live members and what each holds, it computes
/// which table partitions this instance keeps warm copies of (`standby_placement`) and
/// tells the standby actor when that changed.
/// One actor: no locks; it talks to the local manager and standby actor only by messages.
/// The answer to one lookup. One never given (the cluster actor ended first, with the
/// lookup waiting for a retry or an answer) says so, rather than leave the asker waiting
/// for its whole timeout.
class lookup_answer {
public:
  lookup_answer() = default;
  explicit lookup_answer(caf::typed_response_promise<bool, std::string> rp)
    : rp_(std::move(rp)) {}
  lookup_answer(lookup_answer&&) = default;
  lookup_answer& operator=(lookup_answer&&) = default;
  ~lookup_answer();

  void deliver(bool found, std::string value) {
    rp_.deliver(found, std::move(value));
  }

  void deliver(caf::error err) {
    rp_.deliver(std::move(err));
  }

private:
  caf::typed_response_promise<bool, std::string> rp_;
};

/// One table lookup being answered: here, else at the peer holding the key's partition.
struct routed_lookup {
  lookup_answer answer;         ///< (found, value) or an error
  std::string secret;
  std::string table;
  std::string key;
  uint32_t table_index = 0;
  int32_t partition = 0;
  bool forwarded = false;       ///< from a peer: answer from here only
  int retries_left = 1;         ///< after a lost link or a partition on the move
};

struct cluster_state {
  static inline const char* name = "mephisto.cluster";

  env_ptr env;
  partition_manager_actor manager;
  caf::io::middleman_actor middleman;
  standby_actor standby;                        ///< null: no standby replicas
  std::vector<int32_t> standby_set;             ///< last placement sent to it
  std::string address;                          ///< host:port it listens on
  std::vector<int32_t> owned;                   ///< refreshed from the manager every tick
  std::map<std::string, cluster_peer> peers;    ///< by address (seeds included)
  std::map<uint64_t, routed_lookup> retrying;   ///< lookups waiting for a heartbeat
  uint64_t next_retry = 0;
  /// Peers whose links a crash test cut (`cut-links@` fault, refreshed every tick): what
  /// they send is dropped, nothing is sent to them, so each side marks the other down
  /// after `cluster_timeout_ms`, as after a network partition.
  std::set<std::string> cut;
};

/// Spawns as `spawn(cluster, env, manager, middleman, standby)`; starts once told its
/// published address (`listen_atom`, "host:port"). Its interface is `cluster_actor`
/// (protocols.hpp); it is published untyped (see `publish_cluster`).
cluster_actor::behavior_type cluster(cluster_actor::stateful_pointer<cluster_state> self,
                                     env_ptr env, partition_manager_actor manager,
                                     caf::io::middleman_actor middleman, standby_actor standby);

/// Loads what the cluster needs into an actor system's configuration: the io middleman,
/// the one payload type CAF does not know, and with `cluster_tls_*` CAF's OpenSSL module
/// (mutual TLS: every peer must show a certificate signed by `cluster_tls_ca`). Fails on
/// incomplete or unreadable TLS files.
caf::error configure_cluster(caf::actor_system_config& cfg, const worker_options& opts);

/// The middleman that connects to peers: CAF's OpenSSL one when TLS is on.
caf::io::middleman_actor cluster_middleman(caf::actor_system& sys, const worker_options& opts);

/// Publishes `whom` on host:port (port 0: any free one), over TLS when it is on. Published
/// as a dynamically typed actor, so that command lines and peers connect to it without
/// CAF's interface check (the cluster actor refuses what it does not take).
expected<uint16_t> publish_cluster(caf::actor_system& sys, const caf::actor& whom,
                                   const std::string& host, uint16_t port,
                                   const worker_options& opts);

/// Connects to the cluster actor at host:port (blocking: for command lines).
expected<caf::actor> connect_cluster(caf::actor_system& sys, const std::string& host,
                                     uint16_t port, const worker_options& opts);

/// The partition of `key` in a table of `partitions` partitions (Kafka's murmur2).
int32_t key_partition(const std::string& key, int32_t partitions);

} // namespace mephisto
