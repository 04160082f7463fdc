// mephisto-bench: the colors pipeline against the raw librdkafka limit, side by side,
// on the embedded broker, on the same pre-produced input.
//
//   mephisto-bench [--words 600000] [--rounds 3] [--threads 2]
//
// (a) raw: one librdkafka consumer reads `input` and produces every record to
//     `raw_output` (no actors, no table): the pass-through limit of this machine.
// (b) mephisto: the colors app (filter -> colors_topic -> count in a table -> output),
//     timed from the partition assignment to the moment its last output record is in
//     Kafka (output high watermarks).
// Rounds alternate (a) and (b); the machine is shared and noisy, so compare within one run.
// The mock keeps only ~5 MiB per partition: keep --words at or below 8 x 80k.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "colors_app.hpp"
#include "mephisto/actors/env.hpp"
#include "mephisto/kafka/config.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/log.hpp"
#include "mephisto/worker.hpp"

using namespace std::chrono;
using mephisto::kafka::handle_ptr;

namespace {

constexpr int32_t partitions = 8;

handle_ptr client(rd_kafka_type_t type, const std::string& bootstrap,
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

const mephisto::kafka::settings producer_settings{
  {"linger.ms", "5"},
  {"batch.num.messages", "10000"},
  {"batch.size", "1000000"},
  {"queue.buffering.max.messages", "1000000"},
  {"enable.idempotence", "true"},
};

void produce_or_wait(rd_kafka_t* rk, rd_kafka_topic_t* rkt, int32_t partition, const void* key,
                     size_t key_len, const void* value, size_t value_len) {
  while (rd_kafka_produce(rkt, partition, RD_KAFKA_MSG_F_COPY, const_cast<void*>(value),
                          value_len, key, key_len, nullptr)
         != 0)
    rd_kafka_poll(rk, 1);
}

size_t produce_words(const std::string& bootstrap, size_t n) {
  static const char* vocabulary[] = {"red", "green", "blue", "yellow",
                                     "black", "white", "cat", "dog"};
  auto rk = client(RD_KAFKA_PRODUCER, bootstrap, producer_settings);
  auto rkt = rd_kafka_topic_new(rk.get(), "input", nullptr);
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

/// (a) consume every record of `input` and produce it to `raw_output`.
double raw_pass_through(const std::string& bootstrap, size_t n, int round) {
  auto consumer = client(RD_KAFKA_CONSUMER, bootstrap,
                         {{"group.id", "bench-raw-" + std::to_string(round)},
                          {"enable.auto.commit", "false"},
                          {"fetch.wait.max.ms", "100"},
                          {"queued.max.messages.kbytes", "16384"}});
  auto producer = client(RD_KAFKA_PRODUCER, bootstrap, producer_settings);
  auto rkt = rd_kafka_topic_new(producer.get(), "raw_output", nullptr);
  auto parts = rd_kafka_topic_partition_list_new(partitions);
  for (int32_t p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(parts, "input", p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  // Like the runtime, read each partition's own queue (faster than the merged consumer
  // queue on the mock), round robin, without blocking while any queue has records.
  std::vector<rd_kafka_queue_t*> queues;
  for (int32_t p = 0; p < partitions; ++p) {
    queues.push_back(rd_kafka_queue_get_partition(consumer.get(), "input", p));
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

int64_t output_records(rd_kafka_t* rk) {
  int64_t total = 0;
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t lo = 0;
    int64_t hi = 0;
    if (rd_kafka_query_watermark_offsets(rk, "output", p, &lo, &hi, 5000) == 0)
      total += hi;
  }
  return total;
}

/// (b) the colors app; returns seconds from assignment to the last output record.
double colors_pipeline(mephisto::kafka::embedded_broker& broker, size_t colors_expected,
                       int round, int threads) {
  auto id = "colors-bench-" + std::to_string(round);
  broker.create_topic(id + "-colors_topic", partitions);
  broker.create_topic(id + "-colors-count-changelog", partitions);
  auto probe = client(RD_KAFKA_PRODUCER, broker.bootstrap(), {});
  auto before = output_records(probe.get());
  mephisto::app app{"colors"};
  colors::declare(app);
  mephisto::worker_options opts;
  opts.broker = broker.url();
  opts.id = id;
  opts.threads = threads;
  opts.log_level = "warn";
  mephisto::worker w{app.resolve(opts), opts};
  if (auto err = w.start())
    throw std::runtime_error(mephisto::render(err));
  while (w.stats().assigned.load() == 0)
    std::this_thread::sleep_for(1ms);
  auto start = steady_clock::now();
  auto target = before + static_cast<int64_t>(colors_expected);
  while (output_records(probe.get()) < target) {
    std::this_thread::sleep_for(5ms);
    if (steady_clock::now() - start > 300s)
      throw std::runtime_error("the pipeline did not finish within 300 s");
  }
  auto secs = duration<double>(steady_clock::now() - start).count();
  w.stop();
  w.wait();
  return secs;
}

} // namespace

int main(int argc, char** argv) {
  size_t words = 600'000;
  int rounds = 3;
  int threads = 2;
  CLI::App cli{"mephisto-bench: colors pipeline vs. raw librdkafka on the embedded broker"};
  cli.add_option("--words", words, "input words (8 partitions; the mock keeps ~80k/partition)");
  cli.add_option("--rounds", rounds, "alternating rounds of (a) and (b)");
  cli.add_option("--threads", threads, "CAF scheduler threads for the pipeline");
  CLI11_PARSE(cli, argc, argv);
  mephisto::set_log_level("warn");
  mephisto::kafka::embedded_broker broker;
  if (auto err = broker.start()) {
    std::fprintf(stderr, "error: %s\n", mephisto::render(err).c_str());
    return 1;
  }
  for (auto t : {"input", "raw_output", "output"})
    broker.create_topic(t, partitions);
  auto colors_expected = produce_words(broker.bootstrap(), words);
  std::printf("input: %zu words on %d partitions (%zu colors), embedded broker, %u cores\n"
              "(a) reads %zu and writes %zu records; (b) reads %zu, writes %zu (+ changelog)\n",
              words, partitions, colors_expected, std::thread::hardware_concurrency(), words,
              words, words + colors_expected, 2 * colors_expected);
  std::vector<double> ratios;
  for (int r = 0; r < rounds; ++r) {
    auto raw = words / raw_pass_through(broker.bootstrap(), words, r);
    auto pipe = words / colors_pipeline(broker, colors_expected, r, threads);
    ratios.push_back(pipe / raw);
    std::printf("round %d: (a) raw pass-through %9.0f msgs/s   (b) mephisto colors %9.0f msgs/s"
                "   b/a = %.2f\n",
                r + 1, raw, pipe, pipe / raw);
    std::fflush(stdout);
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("median b/a = %.2f (target >= 0.5)\n", ratios[ratios.size() / 2]);
  return 0;
}
