// mephisto::testing's Kafka access for tests: produce, consume from the beginning,
// recreate a topic, count partitions. One short-lived librdkafka client per call.

#include <stdexcept>
#include <thread>

#include <librdkafka/rdkafka.h>

#include "mephisto/detail/kafka_client.hpp"
#include "mephisto/error.hpp"
#include "mephisto/kafka/admin.hpp"
#include "mephisto/testing.hpp"

namespace mephisto::testing {

using namespace std::chrono_literals;

rd_kafka_t* detail::make_client(rd_kafka_type_t type, const std::string& bootstrap,
                                std::vector<std::pair<std::string, std::string>> extra) {
  auto conf = rd_kafka_conf_new();
  char errstr[512];
  extra.emplace_back("bootstrap.servers", bootstrap);
  for (auto& [k, v] : extra)
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(k + ": " + errstr);
    }
  auto rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
  if (rk == nullptr)
    throw std::runtime_error(std::string{"rd_kafka_new: "} + errstr);
  return rk;
}

namespace {

struct client_guard {
  rd_kafka_t* rk;
  ~client_guard() { rd_kafka_destroy(rk); }
};

topic_record to_record(const rd_kafka_message_t* m) {
  topic_record r;
  if (m->key)
    r.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload)
    r.value.assign(static_cast<const char*>(m->payload), m->len);
  r.has_value = m->payload != nullptr;
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(const_cast<rd_kafka_message_t*>(m), &hdrs)
      == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* val = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
      r.headers[name] = std::string{static_cast<const char*>(val), size};
  }
  r.partition = m->partition;
  r.offset = m->offset;
  r.timestamp = rd_kafka_message_timestamp(m, nullptr);
  return r;
}

void delete_topic(rd_kafka_t* rk, const std::string& name) {
  auto q = rd_kafka_queue_new(rk);
  auto dt = rd_kafka_DeleteTopic_new(name.c_str());
  rd_kafka_DeleteTopics(rk, &dt, 1, nullptr, q);
  rd_kafka_DeleteTopic_destroy(dt);
  if (auto ev = rd_kafka_queue_poll(q, 30000))
    rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
}

} // namespace

void produce(const std::string& bootstrap, const std::string& topic,
             const std::vector<input_record>& records, std::chrono::milliseconds timeout) {
  client_guard c{detail::make_client(RD_KAFKA_PRODUCER, bootstrap,
                             {{"partitioner", "murmur2_random"},
                              {"sticky.partitioning.linger.ms", "0"},
                              {"linger.ms", "5"},
                              {"queue.buffering.max.messages", "1000000"}})};
  for (auto& [k, v] : records) {
    const char* key = k ? k->data() : nullptr;
    size_t key_size = k ? k->size() : 0;
    for (;;) {
      auto err = rd_kafka_producev(
        c.rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
        RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(c.rk, 10);
        continue;
      }
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        throw std::runtime_error("produce to " + topic + ": " + rd_kafka_err2str(err));
      break;
    }
  }
  if (rd_kafka_flush(c.rk, static_cast<int>(timeout.count())) != RD_KAFKA_RESP_ERR_NO_ERROR
      || rd_kafka_outq_len(c.rk) != 0)
    throw std::runtime_error("produce to " + topic + ": not every record was acknowledged "
                             "within " + std::to_string(timeout.count()) + " ms");
}

std::vector<topic_record> consume(const std::string& bootstrap, const std::string& topic,
                                  size_t expected, std::chrono::milliseconds timeout,
                                  isolation level) {
  std::vector<topic_record> out;
  client_guard c{detail::make_client(RD_KAFKA_CONSUMER, bootstrap,
                             {{"enable.auto.commit", "false"},
                              {"group.id", "mephisto-testing-reader"},
                              {"enable.partition.eof", "false"},
                              {"isolation.level", level == isolation::read_committed
                                                    ? "read_committed" : "read_uncommitted"},
                              {"fetch.wait.max.ms", "50"}})};
  const rd_kafka_metadata_t* md = nullptr;
  auto rkt = rd_kafka_topic_new(c.rk, topic.c_str(), nullptr);
  auto err = rd_kafka_metadata(c.rk, 0, rkt, &md, 10000);
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw std::runtime_error("metadata of " + topic + ": " + rd_kafka_err2str(err));
  if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_metadata_destroy(md);
    throw std::runtime_error("no topic " + topic);
  }
  auto parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
  for (int p = 0; p < md->topics[0].partition_cnt; ++p)
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_metadata_destroy(md);
  rd_kafka_assign(c.rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < expected && std::chrono::steady_clock::now() < deadline) {
    auto m = rd_kafka_consumer_poll(c.rk, 100);
    if (m == nullptr)
      continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
      out.push_back(to_record(m));
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(c.rk);
  std::stable_sort(out.begin(), out.end(), [](const topic_record& a, const topic_record& b) {
    return a.partition < b.partition;
  });
  return out;
}

int32_t partition_count(const std::string& bootstrap, const std::string& topic) {
  client_guard c{detail::make_client(RD_KAFKA_PRODUCER, bootstrap)};
  const rd_kafka_metadata_t* md = nullptr;
  int32_t n = 0;
  if (rd_kafka_metadata(c.rk, 1, nullptr, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < md->topic_cnt; ++i)
      if (topic == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        n = md->topics[i].partition_cnt;
    rd_kafka_metadata_destroy(md);
  }
  return n;
}

void recreate_topic(const std::string& bootstrap, const std::string& name, int32_t partitions,
                    const std::map<std::string, std::string>& configs) {
  client_guard c{detail::make_client(RD_KAFKA_PRODUCER, bootstrap)};
  delete_topic(c.rk, name);
  // A deleted topic takes a moment to go; creating it again fails until then.
  std::string why;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    auto answers = kafka::create_topics(
      c.rk,
      {{.name = name, .partitions = partitions, .replication_factor = 1, .configs = configs}},
      30s);
    if (answers && answers->size() == 1 && answers->front().error == RD_KAFKA_RESP_ERR_NO_ERROR)
      break;
    why = !answers ? render(answers.error())
                   : answers->empty() ? "no answer" : answers->front().message;
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("cannot create topic " + name + ": " + why);
    std::this_thread::sleep_for(200ms);
  }
  while (partition_count(bootstrap, name) != partitions) {
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("topic " + name + " never showed its partitions");
    std::this_thread::sleep_for(100ms);
  }
}

} // namespace mephisto::testing
