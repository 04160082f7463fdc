#pragma once

// mephisto::testing::driver: an app's topology in-process, without a broker (part of
// `mephisto/testing.hpp`, target mephisto::testing).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mephisto/app.hpp"
#include "mephisto/codec.hpp"
#include "mephisto/consumed_record.hpp"
#include "mephisto/options.hpp"
#include "mephisto/testing.hpp"
#include "mephisto/worker_stats.hpp"

namespace mephisto::testing {

/// How a driver runs an app.
struct driver_options {
  /// Partitions of every topic and table that declares none (as `topic_partitions`).
  int32_t partitions = 1;
  /// Partitions of named topics (declared names), e.g. an external topic's on the broker.
  std::map<std::string, int32_t> topic_partitions;
  /// Tables in RocksDB under `state_dir` (required then) instead of memory.
  bool rocksdb = false;
  std::string state_dir;
  /// What the agents see of the worker options: `batch_size`, `batches_in_flight`,
  /// `retry_attempts`, `retry_backoff_ms`, ... The driver runs at-least-once (without a
  /// broker there is no transaction; the outputs are the same) with no web server.
  worker_options worker;
  /// The wall clock at start, in ms since the epoch (2024-01-01T00:00:00Z).
  int64_t start_time_ms = 1704067200000;
};

/// A record of a topic, decoded with the topic's codecs.
template <class K, class V>
struct typed_record {
  K key{};
  V value{};
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp = -1;
};

/// Thrown by `driver::run` when an agent failed for good (a `restart_partition`, a
/// produce that cannot succeed); `what()` names the agent, topic and partition.
struct pipeline_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Runs an app's agents, table shards and codecs in-process without a broker, as Kafka
/// Streams' TopologyTestDriver does: deterministic, on the calling thread only (CAF's test
/// coordinator), and the wall clock moves only when the test moves it.
///
/// Records piped into a topic wait until `run` (or any read, which runs first); `run`
/// hands them to the topic's agents in batches, exactly as a partition's source would,
/// and goes on until nothing moves: outputs to topics that agents read (internal topics)
/// are fed on, table changes go to the changelogs, failed events are retried and
/// dead-lettered. The runtime's own delays (retry backoff, changelog flush) elapse at
/// once, in order. Topics are in memory: each partition a log with offsets from 0.
///
/// The agents and table shards are the worker's own actors; only the Kafka side (the
/// consumer's partition queues and the producer) is replaced. The driver runs at-least-
/// once; `partition < 0` picks the partition as Kafka's default partitioner does (murmur2
/// of the encoded key, round robin without a key).
///
/// Not thread-safe: one test thread uses it. Owns its actor system; agents never see
/// another thread.
class driver {
public:
  /// Prepares `a`'s topology (checks co-partitioning, opens the stores) and starts its
  /// agents on every partition. Throws std::invalid_argument on a bad topology or options.
  explicit driver(const app& a, driver_options opts = {});
  ~driver();
  driver(const driver&) = delete;
  driver& operator=(const driver&) = delete;

  // -- input ----------------------------------------------------------------------------

  /// Pipes one record into `t`, encoded with its codecs. `timestamp` defaults to the
  /// wall clock.
  template <class K, class V>
  void pipe(const topic<K, V>& t, const K& key, const V& value,
            std::optional<int64_t> timestamp = {}, int32_t partition = -1) {
    pipe_raw(t.name(), encoded(key), encoded(value), timestamp.value_or(-1), partition);
  }

  /// Pipes one record without a key into `t`.
  template <class K, class V>
  void pipe_value(const topic<K, V>& t, const V& value, std::optional<int64_t> timestamp = {},
                  int32_t partition = -1) {
    pipe_raw(t.name(), std::nullopt, encoded(value), timestamp.value_or(-1), partition);
  }

  /// Pipes encoded bytes (null key or value: `nullopt`) into topic `name` (declared or
  /// Kafka name), e.g. an event the codecs refuse. `timestamp < 0`: the wall clock.
  void pipe_raw(const std::string& name, std::optional<std::string> key,
                std::optional<std::string> value, int64_t timestamp = -1,
                int32_t partition = -1, record_headers headers = {});

  // -- running --------------------------------------------------------------------------

  /// Processes everything piped so far until nothing moves; returns the events the agents
  /// processed meanwhile. Throws `pipeline_failure` if an agent failed.
  uint64_t run();

  // -- output ---------------------------------------------------------------------------

  /// Every record of `t` so far (each partition in offset order, partitions ascending),
  /// decoded. Runs first. Throws std::runtime_error naming the offset if one does not
  /// decode.
  template <class K, class V>
  std::vector<typed_record<K, V>> read(const topic<K, V>& t) {
    std::vector<typed_record<K, V>> out;
    for (auto& r : records(t.name())) {
      typed_record<K, V> x;
      std::string why;
      if (!codec<K>::decode(r.key, x.key, why) || !codec<V>::decode(r.value, x.value, why))
        throw std::runtime_error("topic " + t.name() + " [" + std::to_string(r.partition)
                                 + "] offset " + std::to_string(r.offset) + ": " + why);
      x.partition = r.partition;
      x.offset = r.offset;
      x.timestamp = r.timestamp;
      out.push_back(std::move(x));
    }
    return out;
  }

  /// Every record of topic `name` (declared or Kafka name), encoded. Runs first.
  std::vector<topic_record> records(const std::string& name);

  /// The dead-letter topic, with each record's headers (`mephisto.error`, ...). Runs first.
  std::vector<topic_record> dead_letters();

  /// The changelog of table `name`. Runs first.
  std::vector<topic_record> changelog(const std::string& name);

  /// The value of `key` in `t` (in the partition Kafka's default partitioner picks for
  /// the key, as routed lookups do). Runs first.
  template <class K, class V>
  std::optional<V> get(const mephisto::table<K, V>& t, const K& key) {
    auto found = lookup(t.index(), encoded(key));
    if (!found)
      return std::nullopt;
    V v{};
    std::string why;
    if (!codec<V>::decode(*found, v, why))
      throw std::runtime_error("table " + t.name() + ": a stored value does not decode: " + why);
    return v;
  }

  /// Every row of `t`, over all partitions, decoded. Runs first.
  template <class K, class V>
  std::map<K, V> contents(const mephisto::table<K, V>& t) {
    std::map<K, V> out;
    std::string why;
    for (auto& [k, v] : rows(t.index())) {
      K key{};
      V value{};
      if (!codec<K>::decode(k, key, why) || !codec<V>::decode(v, value, why))
        throw std::runtime_error("table " + t.name() + ": a row does not decode: " + why);
      out.emplace(std::move(key), std::move(value));
    }
    return out;
  }

  /// Every window of `t` held now (open, or closed and not yet expired), over all
  /// partitions: (key, window) -> value. Runs first.
  template <class K, class V>
  std::map<std::pair<K, window>, V> windows(const mephisto::windowed_table<K, V>& t) {
    std::map<std::pair<K, window>, V> out;
    std::string why;
    for (auto& [k, v] : rows(t.index())) {
      mephisto::detail::window_key<K> key{};
      mephisto::detail::window_cell<V> cell{};
      if (!codec<mephisto::detail::window_key<K>>::decode(k, key, why)
          || !codec<mephisto::detail::window_cell<V>>::decode(v, cell, why))
        throw std::runtime_error("windowed table " + t.name() + ": a row does not decode: " + why);
      if (!key.clock)
        out.emplace(std::pair<K, window>{std::move(key.key), key.w}, std::move(cell.value));
    }
    return out;
  }

  /// Every row of table index `table`, encoded. Runs first.
  std::vector<std::pair<std::string, std::string>> rows(uint32_t table);

  // -- time -----------------------------------------------------------------------------

  /// The wall clock (ms since the epoch): the timestamp of records piped without one.
  int64_t wall_clock_ms() const noexcept;

  /// Runs what was piped, moves the wall clock forward, then runs every agent's tick at
  /// the new time: timers and wall-clock punctuators that are due run, windowed tables
  /// that close on the wall clock close what it reached. Throws `pipeline_failure` if an
  /// agent failed.
  void advance_wall_clock(std::chrono::milliseconds by);

  /// Stream time of a consumed topic's partition: the highest timestamp piped into it or
  /// produced to it so far (-1: none).
  int64_t stream_time_ms(const std::string& topic, int32_t partition) const;

  // -- observing ------------------------------------------------------------------------

  /// The counters a worker keeps (events, decode errors, failures, retries, dead letters,
  /// records sent), the same ones `/metrics` shows.
  const worker_stats& stats() const noexcept;

  /// The offset the consumer group would commit for a consumed topic's partition (-1:
  /// none yet). Runs first.
  int64_t committed(const std::string& topic, int32_t partition);

  /// Partitions of topic `name` (declared or Kafka name).
  int32_t partitions(const std::string& name) const;

  class impl;

private:
  template <class T>
  static std::string encoded(const T& x) {
    std::string out;
    codec<T>::encode(x, out);
    return out;
  }

  std::optional<std::string> lookup(uint32_t table, const std::string& key);

  std::unique_ptr<impl> impl_;
};

} // namespace mephisto::testing
