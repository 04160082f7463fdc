#pragma once

// The modes of mephisto-bench besides --failover and --actor-api, one file each:
// throughput_bench.cpp, lookup_bench.cpp, latency_bench.cpp, restore_bench.cpp. Each prints
// its rounds and a summary, returns the exit code and throws on a failure.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bench {

/// The default mode: (a) raw librdkafka pass-through against (b) the colors app, on the
/// embedded broker, alternating over `rounds` on the same `words`.
int throughput_bench(size_t words, int rounds, int threads);

/// --exactly-once: the colors app under exactly-once against at-least-once.
int guarantee_bench(const std::string& url, size_t words, int rounds, int threads);

/// --metrics: the colors app with the web server off against on and scraped every second.
int metrics_bench(const std::string& url, size_t words, int rounds, int threads);

/// --lookups: table lookups, local and routed through the cluster.
int lookup_bench(int n, int threads);

/// --latency: end-to-end latency of the colors pipeline at a fixed input rate.
int latency_bench(const std::string& url, int rate, int seconds, int threads, int linger_ms);

/// --latency-probe: feeds `input` and measures `output_topic` of a system in another
/// process (bench/latency.py runs it); prints marks at the window's edges and a JSON line.
int latency_probe(const std::string& url, const std::string& output_topic, int rate,
                  int seconds, int warmup_s);

/// --driver: the colors app through the test driver (no broker), memory and RocksDB tables.
int driver_bench(size_t words, int rounds);

/// --windows: resident memory per 1M live windows and updates per second of a windowed
/// table, memory and RocksDB stores.
int windows_bench(size_t keys, size_t per_key);

/// --restore: table recovery against raw consumption of the same changelog.
int restore_bench(const std::string& url, int64_t records, int rounds);
/// --restore-scale: restore time, records/s and peak RSS of count tables of `key_counts`
/// keys (3 changelog records each), memory and RocksDB, each measured in a child process;
/// with `rounds` > 1, each round's figures, then the median of each column.
int restore_scale_bench(const std::string& url, const std::vector<int64_t>& key_counts,
                        int rounds);
/// --restore-latency: the other partitions' latency, lookups and memory while one partition
/// of a worker restores `records` changelog records (restore_latency.cpp).
int restore_latency_bench(const std::string& url, int64_t records, int rate,
                          const std::vector<std::string>& stores);
/// --restore-scale-child: one measurement of --restore-scale ("raw", "memory", "rocksdb"),
/// printed as a `result` line.
int restore_scale_child(const std::string& kind, const std::string& bootstrap,
                        const std::string& topic, int64_t records, const std::string& dir);

} // namespace bench
