#pragma once

// Shared by the benchmark programs: Kafka clients, word input, the raw pass-through limit.

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <fstream>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "mephisto/kafka/admin.hpp"
#include "mephisto/kafka/config.hpp"
#include "mephisto/kafka/embedded_broker.hpp"

namespace bench {

using namespace std::chrono;
using mephisto::kafka::handle_ptr;

/// Wall-clock milliseconds since the epoch (comparable with Kafka's record timestamps).
inline int64_t now_ms() {
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// The median of `xs` (the upper one of an even count), -1 for none.
inline double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs.empty() ? -1 : xs[xs.size() / 2];
}

/// A field of /proc/<pid>/status in KiB (VmRSS, VmHWM), -1 when missing.
inline long status_kib(const std::string& pid, const std::string& field) {
  std::ifstream in{"/proc/" + pid + "/status"};
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field + ":", 0) == 0)
      return std::stol(line.substr(field.size() + 1));
  return -1;
}

inline handle_ptr client(rd_kafka_type_t type, const std::string& bootstrap,
                  mephisto::kafka::settings extra) {
  extra.emplace_back("bootstrap.servers", bootstrap);
  auto conf = mephisto::kafka::make_conf(extra);
  if (!conf)
    throw std::runtime_error(mephisto::render(conf.error()));
  auto rk = mephisto::kafka::make_handle(type, std::move(*conf));
  if (!rk)
    throw std::runtime_error(mephisto::render(rk.error()));
  return std::move(*rk);
}

inline const mephisto::kafka::settings producer_settings{
  {"linger.ms", "5"},
  {"batch.num.messages", "10000"},
  {"batch.size", "1000000"},
  {"queue.buffering.max.messages", "1000000"},
  {"enable.idempotence", "true"},
};

inline void produce_or_wait(rd_kafka_t* rk, rd_kafka_topic_t* rkt, int32_t partition, const void* key,
                     size_t key_len, const void* value, size_t value_len) {
  while (rd_kafka_produce(rkt, partition, RD_KAFKA_MSG_F_COPY, const_cast<void*>(value),
                          value_len, key, key_len, nullptr)
         != 0)
    rd_kafka_poll(rk, 1);
}

inline size_t produce_words(const std::string& bootstrap, const std::string& topic, size_t n,
                     int32_t partitions) {
  static const char* vocabulary[] = {"red", "green", "blue", "yellow",
                                     "black", "white", "cat", "dog"};
  auto rk = client(RD_KAFKA_PRODUCER, bootstrap, producer_settings);
  auto rkt = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
  size_t colors = 0;
  uint32_t x = 12345;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    auto w = vocabulary[(x >> 16) % 8];
    colors += (x >> 16) % 8 < 3;
    produce_or_wait(rk.get(), rkt, static_cast<int32_t>(i % partitions), nullptr, 0, w,
                    std::strlen(w));
  }
  rd_kafka_flush(rk.get(), 60000);
  rd_kafka_topic_destroy(rkt);
  return colors;
}

/// The raw limit: reads every record of `from` (all `partitions`, from the beginning,
/// one partition queue each, never blocking while a queue has records) and produces it
/// to `to`, until `n` records went through and are acknowledged. Returns the seconds from
/// the first record read to the last one acknowledged.
inline double pass_through(const std::string& bootstrap, const std::string& from, const std::string& to,
                    size_t n, int32_t partitions, const std::string& group) {
  auto consumer = client(RD_KAFKA_CONSUMER, bootstrap,
                         {{"group.id", group},
                          {"enable.auto.commit", "false"},
                          {"fetch.wait.max.ms", "100"},
                          {"queued.max.messages.kbytes", "16384"}});
  auto producer = client(RD_KAFKA_PRODUCER, bootstrap, producer_settings);
  auto rkt = rd_kafka_topic_new(producer.get(), to.c_str(), nullptr);
  auto parts = rd_kafka_topic_partition_list_new(partitions);
  for (int32_t p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(parts, from.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  std::vector<rd_kafka_queue_t*> queues;
  for (int32_t p = 0; p < partitions; ++p) {
    queues.push_back(rd_kafka_queue_get_partition(consumer.get(), from.c_str(), p));
    rd_kafka_queue_forward(queues.back(), nullptr);
  }
  rd_kafka_assign(consumer.get(), parts);
  rd_kafka_topic_partition_list_destroy(parts);
  auto start = steady_clock::now();
  std::vector<rd_kafka_message_t*> buf(1000);
  size_t seen = 0;
  while (seen < n) {
    ssize_t round_total = 0;
    for (auto* q : queues) {
      auto got = rd_kafka_consume_batch_queue(q, 0, buf.data(), buf.size());
      for (ssize_t i = 0; i < got; ++i) {
        auto m = buf[i];
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          if (seen == 0)
            start = steady_clock::now(); // connections are warm: time from the first record
          produce_or_wait(producer.get(), rkt, RD_KAFKA_PARTITION_UA, m->key, m->key_len,
                          m->payload, m->len);
          ++seen;
        }
        rd_kafka_message_destroy(m);
      }
      round_total += std::max<ssize_t>(got, 0);
    }
    rd_kafka_poll(producer.get(), round_total == 0 ? 1 : 0);
  }
  rd_kafka_flush(producer.get(), 60000);
  auto secs = duration<double>(steady_clock::now() - start).count();
  for (auto* q : queues)
    rd_kafka_queue_destroy(q);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_consumer_close(consumer.get());
  return secs;
}

/// The raw limit of a restore: a bare consumer reads partition 0 of `topic` from its
/// start until `records` records came. Returns the records read.
inline int64_t raw_consume(const std::string& bootstrap, const std::string& topic,
                           int64_t records) {
  auto consumer = client(RD_KAFKA_CONSUMER, bootstrap,
                         {{"group.id", "restore-bench-raw"}, {"enable.auto.commit", "false"},
                          {"fetch.wait.max.ms", "50"}, {"queued.min.messages", "100000"}});
  // From the first offset, asked for as the restore does: "from the beginning" would cost
  // librdkafka an offset lookup and half a second before its first fetch.
  int64_t low = 0;
  int64_t high = 0;
  if (auto err = rd_kafka_query_watermark_offsets(consumer.get(), topic.c_str(), 0, &low, &high,
                                                  10000))
    throw std::runtime_error("the raw consumer cannot read the watermarks of " + topic + ": "
                             + rd_kafka_err2str(err));
  auto parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, topic.c_str(), 0)->offset = low;
  rd_kafka_assign(consumer.get(), parts);
  rd_kafka_topic_partition_list_destroy(parts);
  auto q = rd_kafka_queue_get_consumer(consumer.get());
  std::vector<rd_kafka_message_t*> buf(1000);
  int64_t seen = 0;
  while (seen < records) {
    auto n = rd_kafka_consume_batch_queue(q, 100, buf.data(), buf.size());
    for (ssize_t i = 0; i < n; ++i) {
      seen += buf[i]->err == RD_KAFKA_RESP_ERR_NO_ERROR;
      rd_kafka_message_destroy(buf[i]);
    }
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_consumer_close(consumer.get());
  return seen;
}

/// Sum of the high watermarks of `topic`'s partitions: records ever written to it.
inline int64_t records_in(rd_kafka_t* rk, const std::string& topic, int32_t partitions) {
  int64_t total = 0;
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t lo = 0;
    int64_t hi = 0;
    if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, 5000) == 0)
      total += hi;
  }
  return total;
}


/// The broker for --latency and --restore: an embedded one (`url == "embedded"`, kept alive
/// by `embedded`) or `kafka://host:port`; creates `topics` there. Returns host:port.
inline std::string connect(const std::string& url, std::unique_ptr<mephisto::kafka::embedded_broker>& embedded,
                    std::vector<mephisto::kafka::topic_spec> topics) {
  if (url == "embedded") {
    embedded = std::make_unique<mephisto::kafka::embedded_broker>();
    if (auto err = embedded->start())
      throw std::runtime_error(mephisto::render(err));
    for (auto& t : topics)
      embedded->create_topic(t.name, t.partitions);
    return embedded->bootstrap();
  }
  auto bs = mephisto::kafka::parse_broker_url(url);
  if (!bs)
    throw std::runtime_error(mephisto::render(bs.error()));
  // A benchmark may create its topics (the app itself never creates external ones).
  auto admin = client(RD_KAFKA_PRODUCER, *bs, {});
  if (auto err = mephisto::kafka::ensure_topics(admin.get(), topics, 30s))
    throw std::runtime_error(mephisto::render(err));
  return *bs;
}

} // namespace bench
