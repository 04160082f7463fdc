#include "bench_modes.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include "bench_kit.hpp"
#include "mephisto/kafka/changelog_restore.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/rocksdb_store.hpp"
#include "mephisto/store.hpp"

namespace bench {

/// Table recovery against raw consumption of the same changelog partition: `records`
/// records over 100k keys into one partition, then (a) read it to the high watermark with a
/// bare consumer and (b) restore it into a memory store, alternating.
int restore_bench(const std::string& url, int64_t records, int rounds) {
  const std::string topic = "restore-bench-" + std::to_string(::getpid()) + "-changelog";
  std::unique_ptr<mephisto::kafka::embedded_broker> embedded;
  auto bootstrap = connect(url, embedded, {{topic, 1, true, true}});
  {
    auto producer = client(RD_KAFKA_PRODUCER, bootstrap, producer_settings);
    auto rkt = rd_kafka_topic_new(producer.get(), topic.c_str(), nullptr);
    std::string key;
    std::string value;
    for (int64_t i = 0; i < records; ++i) {
      key = "key-" + std::to_string(i % 100'000);
      value = std::to_string(i);
      produce_or_wait(producer.get(), rkt, 0, key.data(), key.size(), value.data(),
                      value.size());
    }
    rd_kafka_flush(producer.get(), 120000);
    rd_kafka_topic_destroy(rkt);
  }
  std::printf("changelog: %lld records, 100k keys, one partition (%s)\n",
              static_cast<long long>(records), url.c_str());
  std::vector<double> ratios;
  std::vector<double> rocks_ratios;
  for (int r = 0; r < rounds; ++r) {
    // (a) raw: a bare consumer to the high watermark.
    auto start = steady_clock::now();
    raw_consume(bootstrap, topic, records);
    auto raw_s = duration<double>(steady_clock::now() - start).count();
    // (b) restore into a memory store (decode every record, apply it).
    mephisto::memory_store<std::string, int64_t> store;
    mephisto::kafka::restore_job job;
    job.bootstrap = bootstrap;
    job.changelog = topic;
    job.partition = 0;
    job.table = "bench";
    start = steady_clock::now();
    auto res = mephisto::kafka::restore_changelog(job, store);
    auto restore_s = duration<double>(steady_clock::now() - start).count();
    if (!res)
      throw std::runtime_error(mephisto::render(res.error()));
    auto raw_rate = records / raw_s;
    auto restore_rate = static_cast<double>(res->records) / restore_s;
    ratios.push_back(restore_rate / raw_rate);
    // (c) restore into a fresh RocksDB store (decode-checked, written in batches with the
    // changelog offset).
    auto dir = "/tmp/mephisto-bench-rocksdb-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    double rocks_rate = 0;
    size_t rocks_keys = 0;
    {
      mephisto::rocksdb_env env{dir, 256 << 20, 128 << 20};
      auto rocks = std::make_shared<mephisto::rocksdb_store<std::string, int64_t>>(
        mephisto::store_place{&env, "bench", 0, 100000});
      std::string why;
      if (auto err = rocks->open(why))
        throw std::runtime_error(mephisto::render(err));
      start = steady_clock::now();
      auto rres = mephisto::kafka::restore_changelog(job, *rocks);
      auto rocks_s = duration<double>(steady_clock::now() - start).count();
      if (!rres)
        throw std::runtime_error(mephisto::render(rres.error()));
      rocks_rate = static_cast<double>(rres->records) / rocks_s;
      rocks_keys = rocks->size();
    }
    std::filesystem::remove_all(dir);
    rocks_ratios.push_back(rocks_rate / raw_rate);
    std::printf("round %d: (a) raw consume %9.0f records/s   (b) restore to memory %9.0f "
                "records/s (%zu keys) b/a = %.2f   (c) restore to RocksDB %9.0f records/s "
                "(%zu keys) c/a = %.2f\n",
                r + 1, raw_rate, restore_rate, store.size(), restore_rate / raw_rate,
                rocks_rate, rocks_keys, rocks_rate / raw_rate);
    std::fflush(stdout);
  }
  std::printf("median c/a = %.2f (goal >= 0.8)\n", median(rocks_ratios));
  std::printf("median b/a = %.2f (goal >= 0.8)\n", median(ratios));
  return 0;
}

} // namespace bench
