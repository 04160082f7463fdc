// mephisto-bench --restore-latency --broker kafka://HOST:PORT: what one partition's long
// restore costs the others.
//
// What is measured, per store kind: one worker process of the failover bench's keyed
// counter (events -> table counts -> counts-out, 8 partitions) starts while the changelog
// of its table's partition 0 holds `records` records (records/3 keys that Kafka's
// partitioner puts in partition 0, counted to 1, 2 and 3). While partition 0 restores:
//  - events at `rate`/s go to partitions 1-7, each under a key of its own: the latency of
//    each is its output's broker append time (counts-out keeps LogAppendTime) less the
//    time it was produced, split into events produced during the restore and after it;
//  - a lookup of a partition-0 key every 20 ms through the worker's web server
//    (`/tables/counts/<key>`): during the restore it must be refused (503 not ready),
//    never answered with a value; after it, it must give the key's last count (3);
//  - the worker's peak resident memory (VmHWM) at the end.
// The restore's start and end are the worker's `assigned:` and `counts [0] recovered:` log
// lines. 5 s after the restore, partition 0 gets 20000 events/s for 10 s under its table's
// keys at random (each a read and a write of the table, far more keys than its decoded
// cache holds: with RocksDB, reads of the database on the agent's thread), and the other
// partitions' latency is measured again.

#include "bench_modes.hpp"

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <exception>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "bench_kit.hpp"
#include "keyed_events.hpp"
#include "mephisto/codec.hpp"
#include "mephisto/kafka/config.hpp"
#include "mephisto/test_harness.hpp"
#include "support/http_client.hpp"
#include "worker_process.hpp"

namespace bench {

namespace {

constexpr int32_t partitions = 8; // as the failover app declares its topics
constexpr int read_seconds = 10;   ///< how long partition 0 reads its table at random
constexpr int read_rate = 20000;   ///< events per second to partition 0 then

/// `key-<k>` for the first `count` k that Kafka's partitioner puts in partition 0.
std::vector<std::string> partition_zero_keys(int64_t count) {
  std::vector<std::string> keys;
  keys.reserve(static_cast<size_t>(count));
  for (int64_t k = 0; static_cast<int64_t>(keys.size()) < count; ++k) {
    auto key = key_of(k);
    if (rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(), partitions, nullptr,
                                         nullptr)
        == 0)
      keys.push_back(std::move(key));
  }
  return keys;
}

double percentile(std::vector<int64_t> xs, double q) {
  if (xs.empty())
    return -1;
  std::sort(xs.begin(), xs.end());
  return static_cast<double>(xs[std::min(xs.size() - 1, static_cast<size_t>(q * xs.size()))]);
}

/// The first exception any of the bench's own threads threw: kept, and rethrown once they
/// are joined (an escaping exception would end the process).
class thread_errors {
public:
  template <class F>
  auto guard(F body) {
    return [this, body = std::move(body)]() mutable {
      try {
        body();
      } catch (...) {
        std::lock_guard<std::mutex> lock{mtx_};
        if (!first_)
          first_ = std::current_exception();
      }
    };
  }

  void rethrow() {
    if (first_)
      std::rethrow_exception(first_);
  }

private:
  std::mutex mtx_;
  std::exception_ptr first_;
};

/// One lookup of the partition-0 key: when, and what the worker answered.
struct lookup {
  int64_t ms;
  int status;
  std::string body;
};

struct variant {
  std::string store;
  double restore_s = 0;
  std::vector<int64_t> during; ///< latencies (ms) of events produced during the restore
  std::vector<int64_t> after;  ///< ... and after it
  std::vector<int64_t> reads;  ///< ... while partition 0 reads its table at random
  int64_t read_events = 0;     ///< events sent to partition 0 then
  int64_t lost = 0;            ///< events without an output
  int refused = 0;             ///< lookups during the restore answered 503
  int answered_during = 0;     ///< ... answered otherwise (a partial table: a defect)
  int answered_after = 0;      ///< lookups after it that gave the last count
  int wrong_after = 0;         ///< ... that did not
  long peak_kib = -1;
};

void write_changelog(const std::string& bootstrap, const std::string& topic,
                     const std::vector<std::string>& keys) {
  auto rk = client(RD_KAFKA_PRODUCER, bootstrap, producer_settings);
  auto rkt = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
  std::string value;
  for (int64_t count = 1; count <= 3; ++count) {
    value.clear();
    mephisto::codec<int64_t>::encode(count, value);
    for (auto& key : keys)
      produce_or_wait(rk.get(), rkt, 0, key.data(), key.size(), value.data(), value.size());
  }
  flush_or_throw(rk.get(), "changelog");
  rd_kafka_topic_destroy(rkt);
}

variant run_variant(const std::string& bootstrap, const std::string& store, int64_t records,
                    int rate, const std::filesystem::path& dir) {
  variant v;
  v.store = store;
  auto id = "restlat-" + std::to_string(::getpid()) + "-" + store;
  auto admin = client(RD_KAFKA_PRODUCER, bootstrap, {});
  create_topic(admin.get(), id + "-events", partitions, {});
  create_topic(admin.get(), id + "-counts-out", partitions,
               {{"message.timestamp.type", "LogAppendTime"}});
  // The broker shares this machine's cores: its log cleaner compacting the 10M records
  // just written took a whole core during the restore (java at 100 % in top) and halved
  // it. A broker of its own would not take the worker's cores: keep the cleaner off them.
  create_topic(admin.get(), id + "-counts-changelog", partitions,
               {{"cleanup.policy", "compact"}, {"min.compaction.lag.ms", "3600000"}});
  auto keys = partition_zero_keys(records / 3);
  write_changelog(bootstrap, id + "-counts-changelog", keys);
  std::printf("  [%s] changelog partition 0: %" PRId64 " records over %zu keys\n",
              store.c_str(), 3 * static_cast<int64_t>(keys.size()), keys.size());
  std::fflush(stdout);

  auto web = "127.0.0.1:" + std::to_string(mephisto::testing::free_loopback_port());
  std::vector<std::string> args{"mephisto-bench", "--failover-worker", id, "worker", "--broker",
                                "kafka://" + bootstrap, "--id", id, "--web_listen", web,
                                "--store", store == "memory" ? "memory://"
                                             : "rocksdb://" + (dir / (id + "-store")).string()};
  if (store == "rocksdb-cold") {
    // A table far larger than its caches: no OS page cache (O_DIRECT) and a 16 MiB block
    // cache, so that the random reads are reads from the disk, as for a table larger than
    // memory.
    args.insert(args.end(), {"--rocksdb_direct_reads", "true", "--rocksdb_cache_mb", "16",
                             "--rocksdb_write_buffer_mb", "8"});
  }
  auto log = (dir / (id + ".log")).string();
  worker_process worker{args, log};
  // Sends and lookups start with the assignment and run until the restore is over and 5 s
  // more; outputs are read until every event has one (or 10 s more).
  thread_errors errors;
  std::atomic<bool> stopping{false};
  std::atomic<bool> reading{true};
  std::atomic<int64_t> assigned_at{-1};
  std::vector<int64_t> sent_ms;
  std::mutex out_mtx;
  std::vector<int64_t> out_ms; // per event, its output's append time (-1: none yet)
  std::thread feeder{errors.guard([&] {
    auto rk = client(RD_KAFKA_PRODUCER, bootstrap, producer_settings);
    auto rkt = rd_kafka_topic_new(rk.get(), (id + "-events").c_str(), nullptr);
    while (assigned_at < 0 && !stopping)
      std::this_thread::sleep_for(10ms);
    auto start = steady_clock::now();
    for (int64_t i = 0; !stopping; ++i) {
      std::this_thread::sleep_until(start + microseconds(i * 1'000'000 / rate));
      auto key = "lat-" + std::to_string(i);
      {
        std::lock_guard<std::mutex> guard{out_mtx};
        sent_ms.push_back(now_ms());
        out_ms.push_back(-1);
      }
      auto partition = 1 + static_cast<int32_t>(i % (partitions - 1));
      produce_or_wait(rk.get(), rkt, partition, key.data(), key.size(), "e", 1);
      rd_kafka_poll(rk.get(), 0);
    }
    rd_kafka_flush(rk.get(), 10000);
    rd_kafka_topic_destroy(rkt);
  })};
  std::thread reader{errors.guard([&] {
    auto rk = client(RD_KAFKA_CONSUMER, bootstrap,
                     {{"group.id", id + "-latency"}, {"auto.offset.reset", "earliest"},
                      {"fetch.wait.max.ms", "10"}});
    auto parts = rd_kafka_topic_partition_list_new(partitions);
    // Every partition: an output's partition is its key's (Kafka's partitioner), not its
    // input's.
    for (int32_t p = 0; p < partitions; ++p)
      rd_kafka_topic_partition_list_add(parts, (id + "-counts-out").c_str(), p)->offset
        = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk.get(), parts);
    rd_kafka_topic_partition_list_destroy(parts);
    while (reading) {
      auto m = rd_kafka_consumer_poll(rk.get(), 100);
      if (m == nullptr)
        continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->key_len > 4) {
        auto i = std::stoll(std::string{static_cast<const char*>(m->key) + 4, m->key_len - 4});
        std::lock_guard<std::mutex> guard{out_mtx};
        if (i >= 0 && static_cast<size_t>(i) < out_ms.size() && out_ms[i] < 0)
          out_ms[i] = rd_kafka_message_timestamp(m, nullptr);
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk.get());
  })};
  std::vector<lookup> lookups;
  std::thread asker{errors.guard([&] {
    auto target = "/tables/counts/" + keys.front();
    while (!stopping) {
      auto got = testkit::http_get(web, target);
      lookups.push_back({now_ms(), got.status, got.body});
      std::this_thread::sleep_for(20ms);
    }
  })};
  auto stop_all = [&] {
    stopping = true;
    reading = false;
    feeder.join();
    reader.join();
    asker.join();
  };
  int64_t assigned = -1;
  int64_t recovered = -1;
  auto deadline = steady_clock::now() + 600s;
  while (recovered < 0 && worker.running() && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(200ms);
    for (auto& l : read_log(log)) {
      if (assigned < 0 && l.text.find("assigned: ") != std::string::npos)
        assigned_at = assigned = l.ms;
      if (l.text.find("counts [0] recovered: ") != std::string::npos)
        recovered = l.ms;
    }
  }
  if (recovered < 0) {
    stop_all();
    throw std::runtime_error(store + ": partition 0 did not recover within 600 s (worker "
                             + worker.how_it_ended() + ")" + log_tail(log));
  }
  std::this_thread::sleep_for(5s);
  // Then partition 0's agent reads (and counts) its table's keys at random, far more of
  // them than its decoded cache holds (table_cache_keys, 100k), for `read_seconds`.
  auto reads_from = now_ms();
  {
    auto rk = client(RD_KAFKA_PRODUCER, bootstrap, producer_settings);
    auto rkt = rd_kafka_topic_new(rk.get(), (id + "-events").c_str(), nullptr);
    auto start = steady_clock::now();
    uint64_t x = 88172645463325252ull;
    for (int64_t i = 0; steady_clock::now() < start + seconds(read_seconds); ++i) {
      std::this_thread::sleep_until(start + microseconds(i * 1'000'000 / read_rate));
      auto& key = keys[xorshift(x) % keys.size()];
      produce_or_wait(rk.get(), rkt, 0, key.data(), key.size(), "e", 1);
      rd_kafka_poll(rk.get(), 0);
      ++v.read_events;
    }
    flush_or_throw(rk.get(), "random reads");
    rd_kafka_topic_destroy(rkt);
  }
  auto reads_until = now_ms();
  std::this_thread::sleep_for(1s);
  v.peak_kib = status_kib(std::to_string(worker.pid()), "VmHWM");
  stopping = true;
  feeder.join();
  // The last events' outputs: up to 10 s more.
  for (auto until = steady_clock::now() + 10s; steady_clock::now() < until;) {
    {
      std::lock_guard<std::mutex> guard{out_mtx};
      if (std::none_of(out_ms.begin(), out_ms.end(), [](int64_t t) { return t < 0; }))
        break;
    }
    std::this_thread::sleep_for(100ms);
  }
  reading = false;
  reader.join();
  asker.join();
  worker.stop(10s);
  errors.rethrow();
  v.restore_s = static_cast<double>(recovered - assigned) / 1000.0;
  for (size_t i = 0; i < sent_ms.size(); ++i) {
    if (out_ms[i] < 0) {
      ++v.lost;
      continue;
    }
    auto latency = out_ms[i] - sent_ms[i];
    if (sent_ms[i] < recovered)
      v.during.push_back(latency);
    else if (sent_ms[i] < reads_from)
      v.after.push_back(latency);
    else if (sent_ms[i] < reads_until)
      v.reads.push_back(latency);
  }
  for (auto& l : lookups) {
    if (l.ms < assigned || l.status == 0) // not listening yet
      continue;
    if (l.ms < recovered) {
      // Refused, or a defect: a value (200) or "no value" (404) from a partial table.
      if (l.status == 503)
        ++v.refused;
      else
        ++v.answered_during;
    } else if (l.ms > recovered + 1000 && l.ms < reads_from) { // (then the counts change)
      if (l.status == 200 && l.body.find("\"value\":3") != std::string::npos)
        ++v.answered_after;
      else
        ++v.wrong_after;
    }
  }
  delete_topics(admin.get(), id);
  return v;
}

} // namespace

int restore_latency_bench(const std::string& url, int64_t records, int rate,
                          const std::vector<std::string>& stores) {
  auto bootstrap = mephisto::kafka::parse_broker_url(url);
  if (!bootstrap || url.rfind("kafka://", 0) != 0)
    throw std::runtime_error("--restore-latency needs a real broker: --broker kafka://HOST:PORT");
  auto dir = std::filesystem::temp_directory_path()
             / ("mephisto-restore-latency-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::printf("restore latency: one worker, 8 partitions; partition 0 restores %" PRId64
              " changelog records while %d events/s go to partitions 1-7; logs in %s\n",
              records, rate, dir.c_str());
  std::fflush(stdout);
  int defects = 0;
  for (auto& store : stores) {
    auto v = run_variant(*bootstrap, store, records, rate, dir);
    std::printf("%s: restore %.1f s (%.0f records/s); other partitions' latency during it p50 "
                "%.0f ms, p99 %.0f ms, max %.0f ms (%zu events); after it p50 %.0f ms, p99 %.0f "
                "ms (%zu events); while partition 0 reads %" PRId64 " random keys p50 %.0f ms, p99 "
                "%.0f ms (%zu events); %" PRId64 " without output; lookups of a restoring key: %d "
                "refused, %d answered during the restore, %d right and %d wrong after it; "
                "peak RSS %.0f MiB\n",
                store.c_str(), v.restore_s, static_cast<double>(records) / v.restore_s,
                percentile(v.during, 0.5), percentile(v.during, 0.99),
                percentile(v.during, 1.0), v.during.size(), percentile(v.after, 0.5),
                percentile(v.after, 0.99), v.after.size(), v.read_events,
                percentile(v.reads, 0.5), percentile(v.reads, 0.99), v.reads.size(), v.lost,
                v.refused,
                v.answered_during, v.answered_after, v.wrong_after,
                static_cast<double>(v.peak_kib) / 1024.0);
    std::fflush(stdout);
    defects += v.lost > 0 || v.answered_during > 0 || v.wrong_after > 0 || v.refused == 0;
  }
  std::filesystem::remove_all(dir);
  return defects == 0 ? 0 : 1;
}

} // namespace bench
