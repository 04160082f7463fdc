// mephisto-passthrough: the raw librdkafka limit as a process, for benchmarks that compare
// systems process by process. bench/compare.sh: copies the first --count records of
// --from (every partition, from the beginning) to --to, then exits.
//
//   mephisto-passthrough --broker kafka://127.0.0.1:9092 --from input --to raw_output --count N
//
// bench/latency.py (--follow): a plain consumer-group member of --group that copies every
// record as it comes (same partition, key, value and timestamp) until SIGTERM, with
// --linger-ms on its (idempotent, acks=all) producer and its offsets committed every second:
// the least a Kafka application can do per record.
//
//   mephisto-passthrough --broker kafka://127.0.0.1:9092 --from input --to raw_output
//                        --follow --group G --linger-ms 5

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "bench_kit.hpp"
#include "mephisto/error.hpp"
#include "mephisto/kafka/admin.hpp"

namespace {

std::atomic<bool> stop_requested{false};

/// --follow: copies records from `from` to `to` until SIGTERM or SIGINT.
int follow(const std::string& bootstrap, const std::string& from, const std::string& to,
           const std::string& group, int linger_ms) {
  using namespace std::chrono;
  std::signal(SIGTERM, [](int) { stop_requested = true; });
  std::signal(SIGINT, [](int) { stop_requested = true; });
  auto consumer = bench::client(RD_KAFKA_CONSUMER, bootstrap,
                                {{"group.id", group},
                                 {"enable.auto.commit", "false"},
                                 {"auto.offset.reset", "latest"}});
  auto producer = bench::client(RD_KAFKA_PRODUCER, bootstrap,
                                {{"linger.ms", std::to_string(linger_ms)},
                                 {"enable.idempotence", "true"},
                                 {"acks", "all"}});
  rd_kafka_poll_set_consumer(consumer.get());
  auto topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, from.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(consumer.get(), topics);
  rd_kafka_topic_partition_list_destroy(topics);
  auto rkt = rd_kafka_topic_new(producer.get(), to.c_str(), nullptr);
  auto next_commit = steady_clock::now() + 1s;
  while (!stop_requested) {
    if (auto m = rd_kafka_consumer_poll(consumer.get(), 100)) {
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        while (rd_kafka_producev(producer.get(), RD_KAFKA_V_RKT(rkt),
                                 RD_KAFKA_V_PARTITION(m->partition),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_VALUE(m->payload, m->len),
                                 RD_KAFKA_V_KEY(m->key, m->key_len),
                                 RD_KAFKA_V_TIMESTAMP(rd_kafka_message_timestamp(m, nullptr)),
                                 RD_KAFKA_V_END)
               == RD_KAFKA_RESP_ERR__QUEUE_FULL)
          rd_kafka_poll(producer.get(), 1);
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_poll(producer.get(), 0);
    if (steady_clock::now() >= next_commit) {
      // the offsets of the records returned by poll (enable.auto.offset.store), async
      rd_kafka_commit(consumer.get(), nullptr, 1);
      next_commit = steady_clock::now() + 1s;
    }
  }
  rd_kafka_flush(producer.get(), 10000);
  rd_kafka_commit(consumer.get(), nullptr, 0);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_consumer_close(consumer.get());
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  std::string broker;
  std::string from;
  std::string to;
  size_t count = 0;
  bool follow_mode = false;
  std::string group = "mephisto-passthrough";
  int linger_ms = 5;
  CLI::App cli{"mephisto-passthrough: copy records topic to topic with bare librdkafka"};
  cli.add_option("--broker", broker, "kafka://host:port")->required();
  cli.add_option("--from", from, "source topic")->required();
  cli.add_option("--to", to, "destination topic (must exist)")->required();
  auto count_opt = cli.add_option("--count", count, "records to copy (without --follow)");
  cli.add_flag("--follow", follow_mode, "copy as records come until SIGTERM (a group member)");
  cli.add_option("--group", group, "--follow: consumer group");
  cli.add_option("--linger-ms", linger_ms, "--follow: producer linger.ms");
  CLI11_PARSE(cli, argc, argv);
  auto bootstrap = mephisto::kafka::parse_broker_url(broker);
  if (!bootstrap) {
    std::fprintf(stderr, "error: %s\n", mephisto::render(bootstrap.error()).c_str());
    return 2;
  }
  if (!follow_mode && count_opt->count() == 0) {
    std::fprintf(stderr, "error: --count or --follow is required\n");
    return 2;
  }
  try {
    if (follow_mode)
      return follow(*bootstrap, from, to, group, linger_ms);
    auto probe = bench::client(RD_KAFKA_PRODUCER, *bootstrap, {});
    auto topics = mephisto::kafka::list_topics(probe.get(), std::chrono::seconds(15));
    if (!topics)
      throw std::runtime_error(mephisto::render(topics.error()));
    if (!topics->count(from) || !topics->count(to))
      throw std::runtime_error("topics " + from + " and " + to + " must exist");
    auto secs = bench::pass_through(*bootstrap, from, to, count, topics->at(from),
                                    "mephisto-passthrough");
    std::printf("copied %zu records in %.3f s: %.0f msgs/s\n", count, secs, count / secs);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
