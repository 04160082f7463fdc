#include "worker_options_cli.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>

#include "client_properties_cli.hpp"

extern char** environ;

namespace mephisto {

namespace {

std::string upper(std::string x) {
  for (auto& c : x)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return x;
}

} // namespace

known_options add_worker_options(CLI::App& cli, worker_options& o) {
  known_options known;
  auto add = [&](const std::string& key, auto& field, const std::string& help) {
    auto dashed = key;
    std::replace(dashed.begin(), dashed.end(), '_', '-');
    auto names = "--" + key + (dashed != key ? ",--" + dashed : std::string{});
    auto env = "MEPHISTO_" + upper(key);
    known.keys.insert(key);
    known.env_names.insert(env);
    cli.add_option(names, field, help)->envname(env)->capture_default_str();
  };
  add("broker", o.broker, "kafka://host:port[,host:port...] or embedded");
  add("id", o.id, "app id (consumer group, internal topic prefix); default: the app name");
  add("instance_id", o.instance_id,
      "static group membership id (restarts keep their partitions); empty: dynamic");
  add("store", o.store, "table storage: memory:// or rocksdb://<dir>");
  add("rocksdb_cache_mb", o.rocksdb_cache_mb, "RocksDB block cache shared by all tables, MiB");
  add("rocksdb_write_buffer_mb", o.rocksdb_write_buffer_mb,
      "RocksDB memtable budget shared by all tables, MiB");
  add("rocksdb_direct_reads", o.rocksdb_direct_reads,
      "read RocksDB table files with O_DIRECT (the block cache is the only cache)");
  add("rocksdb_agent_threads", o.rocksdb_agent_threads,
      "agents with RocksDB tables run on threads of their own (disk I/O off the scheduler)");
  add("table_cache_keys", o.table_cache_keys,
      "keys a RocksDB table partition keeps decoded in memory");
  add("processing_guarantee", o.processing_guarantee, "at_least_once or exactly_once");
  add("topic_partitions", o.topic_partitions, "partitions of internal topics and tables");
  add("commit_interval_ms", o.commit_interval_ms,
      "offset commit (or transaction) interval; 0: 1000 at-least-once, 100 exactly-once");
  add("batch_size", o.batch_size, "most records per batch");
  add("batches_in_flight", o.batches_in_flight, "batches in flight per agent (credits)");
  add("threads", o.threads, "actor scheduler threads (0: one per core)");
  add("startup_timeout_ms", o.startup_timeout_ms, "time to reach the broker at start");
  add("recovery_stall_timeout_ms", o.recovery_stall_timeout_ms,
      "a table recovery without progress for this long fails");
  add("drain_timeout_ms", o.drain_timeout_ms, "time a revoked partition may take to drain");
  add("retry_attempts", o.retry_attempts,
      "attempts of a throwing user function before the event is dead-lettered");
  add("retry_backoff_ms", o.retry_backoff_ms, "wait before the first retry (doubles)");
  add("retry_backoff_max_ms", o.retry_backoff_max_ms, "longest wait between retries");
  add("window_tick_ms", o.window_tick_ms,
      "how often idle agents close windows on the wall clock (0: never)");
  add("linger_ms", o.linger_ms, "producer linger.ms");
  add("inject_faults", o.inject_faults,
      "crash tests only: fail@T/P/OFFSET, crash@T/P/OFFSET, slow@T/P/MS, "
      "produce-fail@FROM_MS-TO_MS, cut-links@FILE, separated by ';'");
  add("cluster_listen", o.cluster_listen,
      "cluster actor address host:port (port 0: any free one), or off");
  add("cluster_seeds", o.cluster_seeds, "instances to join: host:port,host:port");
  add("cluster_secret", o.cluster_secret, "shared secret of the app's instances");
  add("cluster_heartbeat_ms", o.cluster_heartbeat_ms, "cluster heartbeat interval");
  add("cluster_timeout_ms", o.cluster_timeout_ms,
      "a silent peer is down after this; timeout of cluster requests");
  add("cluster_tls_cert", o.cluster_tls_cert, "cluster TLS: this instance's certificate (PEM)");
  add("cluster_tls_key", o.cluster_tls_key, "cluster TLS: its private key (PEM)");
  add("cluster_tls_ca", o.cluster_tls_ca, "cluster TLS: the CA every instance's certificate is signed by");
  add("session_timeout_ms", o.session_timeout_ms,
      "consumer group session timeout: a dead instance's partitions move after it");
  add("partition_assignor", o.partition_assignor,
      "auto (cooperative-sticky unless a table is shared by two topics' agents), "
      "cooperative-sticky or range");
  add("table_standby_replicas", o.table_standby_replicas,
      "warm copies of each table partition on other instances (0: none)");
  add("web_listen", o.web_listen,
      "web server (/metrics, /health, /ready, /tables, /agents, /topology): host:port or off");
  add("web_token", o.web_token, "bearer token every web request must present (empty: none)");
  add("log_level", o.log_level, "trace, debug, info, warn, error, off");
  add("bootstrap_file", o.bootstrap_file, "embedded broker: write its URL to this file");
  return known;
}

bool check_environment(const std::set<std::string>& known) {
  bool ok = true;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    // MEPHISTO_TESTING_*: the test kit's own (mephisto/test_harness.hpp), not a worker's.
    if (kv.rfind("MEPHISTO_", 0) != 0 || kv.rfind("MEPHISTO_TESTING_", 0) == 0)
      continue;
    auto name = kv.substr(0, kv.find('='));
    if (known.count(name) == 0 && !is_client_property_env(name)) {
      std::cerr << "error: unknown environment variable " << name << " (known: ";
      bool first = true;
      for (auto& k : known) {
        std::cerr << (first ? "" : ", ") << k;
        first = false;
      }
      std::cerr << ")\n";
      ok = false;
    }
  }
  return ok;
}

} // namespace mephisto
