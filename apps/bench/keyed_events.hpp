#pragma once

// Keyed events in, running counts out: what the failover benchmark sends to its counter
// workers and reads back. Keys are `key-<k>`, k < the number of keys; every event is
// counted per key as it is sent.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "bench_kit.hpp"
#include "mephisto/kafka/admin.hpp"

namespace bench {

inline std::string key_of(int64_t k) {
  return "key-" + std::to_string(k);
}

inline void create_topic(rd_kafka_t* admin, const std::string& name, int32_t partitions,
                         const mephisto::kafka::settings& config) {
  char errstr[512];
  auto nt = rd_kafka_NewTopic_new(name.c_str(), partitions, -1, errstr, sizeof errstr);
  if (nt == nullptr)
    throw std::runtime_error(name + ": " + errstr);
  for (auto& [k, v] : config)
    rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
  mephisto::kafka::queue_ptr q{rd_kafka_queue_new(admin)};
  rd_kafka_CreateTopics(admin, &nt, 1, nullptr, q.get());
  rd_kafka_NewTopic_destroy(nt);
  auto ev = rd_kafka_queue_poll(q.get(), 30000);
  if (ev == nullptr)
    throw std::runtime_error("CreateTopics " + name + ": no answer within 30 s");
  std::string error;
  if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = rd_kafka_event_error_string(ev);
  } else if (auto res = rd_kafka_event_CreateTopics_result(ev)) {
    size_t n = 0;
    auto topics = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; ++i)
      if (rd_kafka_topic_result_error(topics[i]) != RD_KAFKA_RESP_ERR_NO_ERROR)
        error = rd_kafka_topic_result_error_string(topics[i]);
  }
  rd_kafka_event_destroy(ev);
  if (!error.empty())
    throw std::runtime_error("CreateTopics " + name + ": " + error);
  for (auto until = steady_clock::now() + 30s; steady_clock::now() < until;) {
    auto topics = mephisto::kafka::list_topics(admin, 5s);
    if (topics && topics->count(name) > 0 && topics->at(name) == partitions)
      return;
    std::this_thread::sleep_for(100ms);
  }
  throw std::runtime_error(name + " did not show up in the metadata within 30 s");
}

/// Deletes every topic whose name starts with `prefix` (best effort: a benchmark's leftovers).
inline void delete_topics(rd_kafka_t* admin, const std::string& prefix) {
  auto topics = mephisto::kafka::list_topics(admin, 10s);
  if (!topics)
    return;
  std::vector<rd_kafka_DeleteTopic_t*> dels;
  for (auto& [name, n] : *topics)
    if (name.rfind(prefix, 0) == 0)
      dels.push_back(rd_kafka_DeleteTopic_new(name.c_str()));
  if (dels.empty())
    return;
  mephisto::kafka::queue_ptr q{rd_kafka_queue_new(admin)};
  rd_kafka_DeleteTopics(admin, dels.data(), dels.size(), nullptr, q.get());
  rd_kafka_DeleteTopic_destroy_array(dels.data(), dels.size());
  if (auto ev = rd_kafka_queue_poll(q.get(), 30000))
    rd_kafka_event_destroy(ev);
}

inline mephisto::kafka::settings keyed_producer_settings() {
  auto s = producer_settings;
  s.emplace_back("partitioner", "murmur2_random"); // as Mephisto's own producer
  return s;
}

/// The next of xorshift64's numbers after `x` (its state): cheap, spread keys.
inline uint64_t xorshift(uint64_t& x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

/// Produces one event keyed `key-<k>` (Kafka's partitioner) and counts it in `sent[k]`.
inline void produce_event(rd_kafka_t* rk, rd_kafka_topic_t* rkt, std::vector<int32_t>& sent,
                    int64_t k) {
  auto key = key_of(k);
  produce_or_wait(rk, rkt, RD_KAFKA_PARTITION_UA, key.data(), key.size(), "e", 1);
  ++sent[static_cast<size_t>(k)];
}

inline void flush_or_throw(rd_kafka_t* rk, const char* what) {
  rd_kafka_flush(rk, 60000);
  if (rd_kafka_outq_len(rk) > 0)
    throw std::runtime_error(std::string{what} + ": records still unacknowledged after 60 s");
}

/// Events at a steady `rate` per second over all keys, on a thread of its own.
class trickle {
public:
  trickle(const std::string& bootstrap, const std::string& topic, int rate,
          std::vector<int32_t>& sent)
    : thread_{[this, bootstrap, topic, rate, &sent] { run(bootstrap, topic, rate, sent); }} {}
  trickle(const trickle&) = delete;
  trickle& operator=(const trickle&) = delete;
  ~trickle() {
    stopping_ = true;
    if (thread_.joinable())
      thread_.join();
  }

  /// Stops and waits for every event to be acknowledged; rethrows what the thread threw.
  void stop() {
    stopping_ = true;
    if (thread_.joinable())
      thread_.join();
    if (error_)
      std::rethrow_exception(std::exchange(error_, nullptr));
  }

private:
  void run(const std::string& bootstrap, const std::string& topic, int rate,
           std::vector<int32_t>& sent) {
    try {
      auto rk = client(RD_KAFKA_PRODUCER, bootstrap, keyed_producer_settings());
      auto rkt = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
      auto start = steady_clock::now();
      uint64_t x = 88172645463325252ull;
      for (int64_t i = 0; !stopping_; ++i) {
        std::this_thread::sleep_until(start + microseconds(i * 1'000'000 / rate));
        // Keys spread over every partition.
        produce_event(rk.get(), rkt, sent, static_cast<int64_t>(xorshift(x) % sent.size()));
        rd_kafka_poll(rk.get(), 0);
      }
      flush_or_throw(rk.get(), "trickle");
      rd_kafka_topic_destroy(rkt);
    } catch (...) {
      error_ = std::current_exception();
    }
  }

  std::atomic<bool> stopping_{false};
  std::exception_ptr error_;
  std::thread thread_;
};

/// Broker append times of every record of `topic` from its end on, per partition.
class output_watch {
public:
  output_watch(const std::string& bootstrap, const std::string& topic, int32_t partitions)
    : partitions_(partitions), rk_{client(RD_KAFKA_CONSUMER, bootstrap,
                 {{"group.id", topic + "-watch"}, {"enable.auto.commit", "false"},
                  {"fetch.wait.max.ms", "20"}})},
      times_(partitions) {
    auto parts = rd_kafka_topic_partition_list_new(partitions);
    for (int32_t p = 0; p < partitions; ++p)
      rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_assign(rk_.get(), parts);
    rd_kafka_topic_partition_list_destroy(parts);
    thread_ = std::thread{[this] { run(); }};
  }
  output_watch(const output_watch&) = delete;
  output_watch& operator=(const output_watch&) = delete;
  ~output_watch() {
    stopping_ = true;
    thread_.join();
    rd_kafka_consumer_close(rk_.get());
  }

  std::vector<std::vector<int64_t>> times() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return times_;
  }

  bool wrong_timestamp_type() const { return wrong_type_; }

private:
  void run() {
    while (!stopping_) {
      auto m = rd_kafka_consumer_poll(rk_.get(), 100);
      if (m == nullptr)
        continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->partition >= 0 && m->partition < partitions_) {
        rd_kafka_timestamp_type_t type;
        auto ts = rd_kafka_message_timestamp(m, &type);
        if (type != RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME)
          wrong_type_ = true;
        std::lock_guard<std::mutex> guard{mutex_};
        times_[static_cast<size_t>(m->partition)].push_back(ts);
      }
      rd_kafka_message_destroy(m);
    }
  }

  int32_t partitions_;
  handle_ptr rk_;
  mutable std::mutex mutex_;
  std::vector<std::vector<int64_t>> times_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> wrong_type_{false};
  std::thread thread_;
};

/// Per key `key-<k>`, the highest running count in `topic`, read from the beginning to the
/// high watermarks.
inline std::vector<int64_t> highest_counts(const std::string& bootstrap, const std::string& topic,
                                           int32_t partitions, size_t keys) {
  auto rk = client(RD_KAFKA_CONSUMER, bootstrap,
                   {{"group.id", topic + "-check"}, {"enable.auto.commit", "false"}});
  std::vector<int64_t> end(partitions, 0);
  auto parts = rd_kafka_topic_partition_list_new(partitions);
  int32_t open = 0;
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t lo = 0;
    if (rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p, &lo, &end[p], 10000) != 0)
      throw std::runtime_error("no watermarks for " + topic);
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    open += end[p] > 0;
  }
  rd_kafka_assign(rk.get(), parts);
  rd_kafka_topic_partition_list_destroy(parts);
  std::vector<int64_t> highest(keys, 0);
  mephisto::kafka::queue_ptr q{rd_kafka_queue_get_consumer(rk.get())};
  std::vector<rd_kafka_message_t*> buf(1000);
  for (auto until = steady_clock::now() + 300s; open > 0;) {
    if (steady_clock::now() > until)
      throw std::runtime_error("reading " + topic + " took over 300 s");
    auto n = rd_kafka_consume_batch_queue(q.get(), 200, buf.data(), buf.size());
    for (ssize_t i = 0; i < n; ++i) {
      auto m = buf[i];
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->offset < end[m->partition]) {
        std::string key{static_cast<const char*>(m->key), m->key_len};
        auto k = std::stoll(key.substr(4));
        int64_t v = std::stoll(std::string{static_cast<const char*>(m->payload), m->len});
        auto& h = highest.at(static_cast<size_t>(k));
        h = std::max(h, v);
        open -= m->offset + 1 == end[m->partition];
      }
      rd_kafka_message_destroy(m);
    }
  }
  q.reset();
  rd_kafka_consumer_close(rk.get());
  return highest;
}

} // namespace bench
