#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace mephisto {

/// Everything a worker can be told, with its default. The same keys are accepted in a
/// config file (`--config FILE`, `key = value`), as environment variables
/// (`MEPHISTO_<KEY>`, upper case) and as flags (`--key value`); flags win over the
/// environment, which wins over the file. config/mephisto.toml lists them all.
struct worker_options {
  /// Kafka to use: `kafka://host:port[,host:port...]`, or `embedded` for an in-process
  /// mock cluster (demo and tests only).
  std::string broker = "kafka://localhost:9092";
  /// App id: consumer group, prefix of internal topics. Empty: the app's name.
  std::string id;
  /// Static group membership (`group.instance.id`): a worker that restarts with the same
  /// id within the session timeout gets its partitions back without a rebalance. Empty:
  /// dynamic membership. Every instance needs its own id.
  std::string instance_id;
  /// Table storage: `memory://` (rebuilt from the changelog on every start) or
  /// `rocksdb://<dir>` (one RocksDB per table partition under `<dir>/<id>/`; a restart
  /// reads only the changelog records written after the stored offset).
  std::string store = "memory://";
  /// RocksDB block cache shared by all table partitions of the worker, MiB.
  int32_t rocksdb_cache_mb = 256;
  /// RocksDB memtable budget shared by all table partitions of the worker, MiB.
  int32_t rocksdb_write_buffer_mb = 128;
  /// Reads RocksDB's table files with O_DIRECT: the block cache is then the only cache of
  /// table data, not the OS page cache too (tables larger than memory: one copy of a hot
  /// block, not two). Needs a file system that supports O_DIRECT (not tmpfs).
  bool rocksdb_direct_reads = false;
  /// Agents that use RocksDB tables run on threads of their own (CAF `detached`), so that
  /// their disk reads and writes never hold one of the scheduler's threads, which every
  /// other actor shares. One thread per such agent and partition: off for many partitions
  /// whose tables fit the caches.
  bool rocksdb_agent_threads = true;
  /// Keys a RocksDB table partition keeps decoded in memory.
  int32_t table_cache_keys = 100000;
  /// `at_least_once` (outputs may repeat after a crash) or `exactly_once` (transactions:
  /// outputs, changelogs and offsets commit together; needs a real broker).
  std::string processing_guarantee = "at_least_once";
  /// Partitions of internal topics and tables that do not say otherwise (and of every
  /// topic the embedded broker creates).
  int32_t topic_partitions = 8;
  /// How often processed offsets are committed (under exactly-once: how long a
  /// transaction stays open). 0: 1000 ms at-least-once, 100 ms exactly-once. At least
  /// once, table changelog records wait up to a tenth of it (at most 100 ms) to go out
  /// together, one produce request per changelog partition.
  int32_t commit_interval_ms = 0;
  /// Most records a source hands to its agents in one message.
  int32_t batch_size = 1000;
  /// Batches a source may have in flight to each agent (credit-based flow control).
  int32_t batches_in_flight = 4;
  /// CAF scheduler threads; 0: one per core.
  int32_t threads = 0;
  /// How long start-up may take to reach the broker and check topics.
  int32_t startup_timeout_ms = 15000;
  /// A table recovery that makes no progress for this long fails with an error.
  int32_t recovery_stall_timeout_ms = 30000;
  /// How long a revoke may wait for a partition to drain and commit.
  int32_t drain_timeout_ms = 60000;
  /// Attempts of a user function that throws, the first included; then the event goes to
  /// the dead-letter topic `<id>-dead-letter` and processing continues.
  int32_t retry_attempts = 3;
  /// Wait before the first retry; doubles per retry up to `retry_backoff_max_ms`.
  int32_t retry_backoff_ms = 10;
  int32_t retry_backoff_max_ms = 1000;
  /// How often an agent whose windowed tables close on the wall clock checks it, when it
  /// has no events to process. 0: never (the test driver moves its own clock).
  int32_t window_tick_ms = 1000;
  /// Producer `linger.ms`.
  int32_t linger_ms = 5;
  /// For crash-recovery tests only (mephisto::testing's harness sets it): faults to
  /// inject, e.g. `fail@input/3/1200;slow@input/1/20;produce-fail@2000-4000` (see
  /// `fault_plan`). Empty: none.
  std::string inject_faults;
  /// Where this worker's cluster actor listens (CAF io middleman), `host:port`; port 0
  /// picks a free one; `off` disables the cluster (no routed lookups).
  std::string cluster_listen = "127.0.0.1:0";
  /// Other instances to join, `host:port,host:port`.
  std::string cluster_seeds;
  /// Shared secret every instance and lookup client must present.
  std::string cluster_secret;
  /// Heartbeat interval; a peer silent for `cluster_timeout_ms` is marked down. Also the
  /// timeout of every cluster request.
  int32_t cluster_heartbeat_ms = 500;
  int32_t cluster_timeout_ms = 3000;
  /// TLS between instances (CAF's OpenSSL module): this instance's certificate and key and
  /// the CA that signed every instance's certificate (PEM files). All three, or none: off.
  std::string cluster_tls_cert;
  std::string cluster_tls_key;
  std::string cluster_tls_ca;
  /// Consumer group session timeout: a dead instance's partitions move after this. The
  /// broker bounds it (group.min/max.session.timeout.ms: 6 s to 30 min by default).
  int32_t session_timeout_ms = 10000;
  /// The consumer group's partition assignor: `auto` (cooperative-sticky, unless a table
  /// is used by agents of two topics: then range), `cooperative-sticky` or `range`.
  std::string partition_assignor = "auto";
  /// Warm copies of each table partition kept on other live instances (cluster on): a
  /// failover to an instance with a copy reads only the changelog tail. 0: none.
  int32_t table_standby_replicas = 1;
  /// Where the web server listens, `host:port` (port 0 picks a free one), or `off`: the
  /// Prometheus page `/metrics`, the probes `/health` and `/ready`, and the JSON views
  /// `/tables`, `/tables/<table>/<key>`, `/agents`, `/topology`. Loopback by default; a
  /// port in use fails `start`. Several workers on one host each need their own port.
  std::string web_listen = "127.0.0.1:6066";
  /// When set, every web request must carry `Authorization: Bearer <web_token>` (else 401).
  std::string web_token;
  /// trace, debug, info, warn, error or off.
  std::string log_level = "info";
  /// Embedded broker only: write `kafka://host:port` here once it is up.
  std::string bootstrap_file;
  /// librdkafka properties for Mephisto's Kafka clients, keyed with a prefix:
  /// `kafka.<property>` reaches every client (group consumer, producers, admin, table
  /// restores, standby replicas, subscriptions), `consumer.<property>` the consumers only,
  /// `producer.<property>` the producers only (it wins over `kafka.`). E.g.
  /// `kafka.security.protocol = SASL_SSL`. Checked at start: an unknown property, a bad
  /// value or one Mephisto sets itself is an error naming it. Secrets (passwords, keys,
  /// JAAS configurations) never appear in logs.
  std::map<std::string, std::string> client_properties;

  bool exactly_once() const noexcept { return processing_guarantee == "exactly_once"; }
  bool cluster_tls() const noexcept {
    return !cluster_tls_cert.empty() || !cluster_tls_key.empty() || !cluster_tls_ca.empty();
  }
};

} // namespace mephisto
