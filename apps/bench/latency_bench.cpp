#include "bench_modes.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "bench_kit.hpp"
#include "colors_runs.hpp"
#include "mephisto/kafka/embedded_broker.hpp"

namespace bench {

/// End-to-end latency of the colors pipeline at a fixed input rate: color words are
/// produced at `rate` per second (CreateTime = send time), the pipeline stamps its outputs
/// with their input's time, and a consumer of `output` takes now - timestamp per record.
int latency_bench(const std::string& url, int rate, int seconds, int threads, int linger_ms) {
  auto id = "colors-latency-" + std::to_string(::getpid());
  std::unique_ptr<mephisto::kafka::embedded_broker> embedded;
  auto bootstrap = connect(url, embedded, colors_topics(id));
  auto w = start_colors("kafka://" + bootstrap, id, threads, linger_ms);
  // Read `output` from its end.
  auto consumer = client(RD_KAFKA_CONSUMER, bootstrap,
                         {{"group.id", id + "-probe"}, {"fetch.wait.max.ms", "5"},
                          {"enable.auto.commit", "false"}});
  auto parts = rd_kafka_topic_partition_list_new(colors_partitions);
  for (int32_t p = 0; p < colors_partitions; ++p)
    rd_kafka_topic_partition_list_add(parts, "output", p)->offset = RD_KAFKA_OFFSET_END;
  rd_kafka_assign(consumer.get(), parts);
  rd_kafka_topic_partition_list_destroy(parts);
  // Warm up: the pipeline has joined, recovered and got its producer id once one word made
  // it through; only then does the measurement start.
  {
    auto producer = client(RD_KAFKA_PRODUCER, bootstrap, {{"linger.ms", "0"}});
    auto rkt = rd_kafka_topic_new(producer.get(), "input", nullptr);
    auto give_up = steady_clock::now() + 120s;
    size_t warm = 0;
    while (warm < static_cast<size_t>(colors_partitions) && steady_clock::now() < give_up) {
      for (int32_t p = 0; p < colors_partitions; ++p)
        produce_or_wait(producer.get(), rkt, p, nullptr, 0, "red", 3);
      rd_kafka_flush(producer.get(), 5000);
      for (auto until = steady_clock::now() + 500ms; steady_clock::now() < until;) {
        if (auto m = rd_kafka_consumer_poll(consumer.get(), 50)) {
          warm += m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
          rd_kafka_message_destroy(m);
        }
      }
    }
    rd_kafka_topic_destroy(rkt);
    if (warm == 0)
      throw std::runtime_error("the pipeline produced nothing within 120 s");
    // Drain what the warm-up left.
    while (auto m = rd_kafka_consumer_poll(consumer.get(), 500))
      rd_kafka_message_destroy(m);
  }
  std::atomic<bool> producing{true};
  std::thread feeder{[&] {
    auto producer = client(RD_KAFKA_PRODUCER, bootstrap,
                           {{"linger.ms", std::to_string(linger_ms)}});
    auto rkt = rd_kafka_topic_new(producer.get(), "input", nullptr);
    static const char* colors[] = {"red", "green", "blue"};
    auto start = steady_clock::now();
    for (int64_t i = 0; i < int64_t{rate} * seconds; ++i) {
      // Pace: the i-th record is due at start + i / rate.
      std::this_thread::sleep_until(start + microseconds(i * 1'000'000 / rate));
      auto w = colors[i % 3];
      produce_or_wait(producer.get(), rkt, static_cast<int32_t>(i % colors_partitions), nullptr,
                      0, w, std::strlen(w));
      rd_kafka_poll(producer.get(), 0);
    }
    rd_kafka_flush(producer.get(), 10000);
    rd_kafka_topic_destroy(rkt);
    producing = false;
  }};
  std::vector<int64_t> latencies;
  latencies.reserve(static_cast<size_t>(rate) * seconds);
  auto deadline = steady_clock::now() + seconds * 1s + 30s;
  while (latencies.size() < static_cast<size_t>(rate) * seconds
         && steady_clock::now() < deadline) {
    auto m = rd_kafka_consumer_poll(consumer.get(), 100);
    if (m == nullptr)
      continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      auto now = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
      latencies.push_back(now - rd_kafka_message_timestamp(m, nullptr));
    }
    rd_kafka_message_destroy(m);
  }
  feeder.join();
  rd_kafka_consumer_close(consumer.get());
  w->stop();
  w->wait();
  if (latencies.empty())
    throw std::runtime_error("no output arrived");
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double q) { return latencies[static_cast<size_t>(q * (latencies.size() - 1))]; };
  std::printf("latency at %d msgs/s for %d s (%s, linger.ms=%d, %zu outputs): "
              "p50 %lld ms, p99 %lld ms, max %lld ms (target p99 <= 10 ms)\n",
              rate, seconds, url == "embedded" ? "embedded broker" : url.c_str(), linger_ms,
              latencies.size(), static_cast<long long>(pct(0.5)),
              static_cast<long long>(pct(0.99)), static_cast<long long>(latencies.back()));
  return 0;
}

} // namespace bench
