#include "bench_modes.hpp"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "bench_kit.hpp"
#include "mephisto/codec.hpp"
#include "mephisto/kafka/changelog_restore.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/rocksdb_store.hpp"
#include "mephisto/store.hpp"
#include "worker_process.hpp"

namespace bench {

namespace {

/// The table's key for number `i`: 15 characters, as a user id would be.
void key_of(int64_t i, std::string& out) {
  char buf[32];
  auto n = std::snprintf(buf, sizeof(buf), "user-%010" PRId64, i);
  out.assign(buf, static_cast<size_t>(n));
}

/// The key of the `i`th record of pass `count`: each pass is a permutation of the keys
/// (a table's updates come in no key order). bench/peers/kstreams' RestoreStreams writes the
/// same order.
int64_t key_index(int64_t i, int64_t count, int64_t keys) {
  return static_cast<int64_t>((static_cast<uint64_t>(i) * 2654435761u
                               + static_cast<uint64_t>(count) * 7919u)
                              % static_cast<uint64_t>(keys));
}

/// A count table's changelog: `keys` keys, each counted up to 3 (every key with count 1,
/// then again with 2, then 3, each pass in its own order), as a table whose keys are all
/// updated now and then writes it.
void write_changelog(const std::string& bootstrap, const std::string& topic, int64_t keys) {
  auto producer = client(RD_KAFKA_PRODUCER, bootstrap, producer_settings);
  auto rkt = rd_kafka_topic_new(producer.get(), topic.c_str(), nullptr);
  std::string key;
  std::string value;
  for (int64_t count = 1; count <= 3; ++count) {
    value.clear();
    mephisto::codec<int64_t>::encode(count, value);
    for (int64_t i = 0; i < keys; ++i) {
      key_of(key_index(i, count, keys), key);
      produce_or_wait(producer.get(), rkt, 0, key.data(), key.size(), value.data(),
                      value.size());
    }
  }
  if (rd_kafka_flush(producer.get(), 300000) != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw std::runtime_error("the changelog was not written within 300 s");
  rd_kafka_topic_destroy(rkt);
}

/// What one measurement process printed.
struct measurement {
  double seconds = 0;
  int64_t records = 0;
  int64_t keys = 0;
  long rss_before_kib = 0; ///< before the restore (consumer not yet made)
  long rss_after_kib = 0;  ///< after it, the table still held
  long peak_kib = 0;       ///< VmHWM
};

measurement measure(const std::string& kind, const std::string& bootstrap,
                    const std::string& topic, int64_t records, const std::string& dir) {
  auto log = dir + "/" + kind + ".out";
  worker_process child{{"mephisto-bench", "--restore-scale-child", kind, "--bootstrap-servers",
                        bootstrap, "--topic", topic, "--records", std::to_string(records),
                        "--dir", dir},
                       log};
  while (child.running())
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::ifstream in{log};
  measurement m;
  bool found = false;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields{line};
    std::string tag;
    fields >> tag;
    if (tag == "result")
      found = static_cast<bool>(fields >> m.seconds >> m.records >> m.keys >> m.rss_before_kib
                                >> m.rss_after_kib >> m.peak_kib);
  }
  if (!found)
    throw std::runtime_error("the " + kind + " measurement failed (" + child.how_it_ended()
                             + "):\n" + log_tail(log));
  return m;
}

double mib(long kib) { return static_cast<double>(kib) / 1024.0; }

} // namespace

int restore_scale_child(const std::string& kind, const std::string& bootstrap,
                        const std::string& topic, int64_t records, const std::string& dir) {
  measurement m;
  m.rss_before_kib = status_kib("self", "VmRSS");
  auto start = steady_clock::now();
  mephisto::kafka::restore_job job;
  job.bootstrap = bootstrap;
  job.changelog = topic;
  job.partition = 0;
  job.table = "counts";
  std::unique_ptr<mephisto::rocksdb_env> env;
  std::shared_ptr<mephisto::store_base> store;
  if (kind == "raw") {
    m.records = raw_consume(bootstrap, topic, records);
  } else {
    if (kind == "memory") {
      store = std::make_shared<mephisto::memory_store<std::string, int64_t>>();
    } else if (kind == "rocksdb") {
      std::filesystem::remove_all(dir + "/rocksdb");
      // The worker's defaults: rocksdb_cache_mb 256, rocksdb_write_buffer_mb 128.
      env = std::make_unique<mephisto::rocksdb_env>(dir + "/rocksdb", size_t{256} << 20,
                                                    size_t{128} << 20);
      store = std::make_shared<mephisto::rocksdb_store<std::string, int64_t>>(
        mephisto::store_place{env.get(), "counts", 0, 100000});
    } else {
      throw std::runtime_error("unknown measurement " + kind);
    }
    std::string why;
    if (auto err = store->open(why))
      throw std::runtime_error(mephisto::render(err));
    start = steady_clock::now();
    auto res = mephisto::kafka::restore_changelog(job, *store);
    if (!res)
      throw std::runtime_error(mephisto::render(res.error()));
    m.records = res->records;
  }
  m.seconds = duration<double>(steady_clock::now() - start).count();
  m.keys = store ? static_cast<int64_t>(store->size()) : 0;
  m.rss_after_kib = status_kib("self", "VmRSS");
  m.peak_kib = status_kib("self", "VmHWM");
  std::printf("result %.3f %" PRId64 " %" PRId64 " %ld %ld %ld\n", m.seconds, m.records, m.keys,
              m.rss_before_kib, m.rss_after_kib, m.peak_kib);
  std::fflush(stdout);
  store.reset();
  env.reset();
  if (kind == "rocksdb")
    std::filesystem::remove_all(dir + "/rocksdb");
  return 0;
}

int restore_scale_bench(const std::string& url, const std::vector<int64_t>& key_counts,
                        int rounds) {
  auto dir = "/tmp/mephisto-restore-scale-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::printf("restore scale: a count table's changelog, 3 records per key (15-byte keys, in no "
              "order), one partition (%s);\neach figure from its own process: raw consume, restore into a "
              "memory store, into RocksDB (256 MiB cache, 128 MiB write buffers)%s\n",
              url.c_str(),
              rounds > 1 ? ";\nrounds in turn, then the median of each column (x raw: of each "
                           "round's own ratio)"
                         : "");
  std::printf("%9s %10s | %10s %9s | %10s %5s %9s %11s | %10s %5s %9s\n", "keys", "records",
              "raw rec/s", "peak MiB", "mem rec/s", "x raw", "peak MiB", "MiB/1M keys", "rdb rec/s",
              "x raw", "peak MiB");
  std::fflush(stdout);
  for (auto keys : key_counts) {
    const std::string topic = "restore-scale-" + std::to_string(::getpid()) + "-"
                              + std::to_string(keys) + "-changelog";
    std::unique_ptr<mephisto::kafka::embedded_broker> embedded;
    auto bootstrap = connect(url, embedded, {{topic, 1, true, false}});
    write_changelog(bootstrap, topic, keys);
    auto records = 3 * keys;
    // One row of figures per round: the columns of the table above.
    std::vector<std::vector<double>> rows;
    for (int round = 1; round <= rounds; ++round) {
      auto raw = measure("raw", bootstrap, topic, records, dir);
      auto mem = measure("memory", bootstrap, topic, records, dir);
      auto rdb = measure("rocksdb", bootstrap, topic, records, dir);
      for (auto* m : {&mem, &rdb})
        if (m->records != records || m->keys != keys)
          throw std::runtime_error("a restore got " + std::to_string(m->records) + " records, "
                                   + std::to_string(m->keys) + " keys");
      auto rate = [](const measurement& m) { return static_cast<double>(m.records) / m.seconds; };
      // The table's own memory: resident after the restore less before it.
      auto per_million = mib(mem.rss_after_kib - mem.rss_before_kib) * 1e6
                         / static_cast<double>(keys);
      rows.push_back({rate(raw), mib(raw.peak_kib), rate(mem), rate(mem) / rate(raw),
                      mib(mem.peak_kib), per_million, rate(rdb), rate(rdb) / rate(raw),
                      mib(rdb.peak_kib)});
    }
    auto print = [&](const char* lead, const std::vector<double>& f) {
      std::printf("%s%9" PRId64 " %10" PRId64 " | %10.0f %9.0f | %10.0f %5.2f %9.0f %11.1f | "
                  "%10.0f %5.2f %9.0f\n",
                  lead, keys, records, f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]);
    };
    if (rounds > 1) {
      for (auto& row : rows)
        print("# ", row);
      std::vector<double> medians;
      for (size_t col = 0; col < rows[0].size(); ++col) {
        std::vector<double> column;
        for (auto& row : rows)
          column.push_back(row[col]);
        medians.push_back(median(std::move(column)));
      }
      print("", medians);
    } else {
      print("", rows[0]);
    }
    std::fflush(stdout);
  }
  std::filesystem::remove_all(dir);
  return 0;
}

} // namespace bench
