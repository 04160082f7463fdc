#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mephisto/error.hpp"
#include "mephisto/options.hpp"
#include "mephisto/topology.hpp"

namespace mephisto {

struct worker_stats;

/// One running instance of an app: its broker connection (or embedded broker), its
/// producer, its group consumer and the actors for the partitions it is assigned.
///
/// Owned by the thread that creates it. `start` and `wait` are called from that thread;
/// `stop`, the lookups, snapshots and counters from any thread, also while `wait` ends
/// the worker (they then fail with "the worker is not running"; `wait` lets the calls in
/// flight finish first). The actor system lives inside: its
/// scheduler threads (`threads`), one thread for the group consumer, one for the
/// producer's delivery reports, one per table partition while it recovers.
class worker {
public:
  worker(std::shared_ptr<const topology> topo, worker_options opts);
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

  /// `host:port` of this worker's cluster actor (empty when the cluster is off).
  const std::string& cluster_address() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace mephisto
