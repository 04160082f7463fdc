#include "mephisto/kafka/producer.hpp"

#include "mephisto/log.hpp"

namespace mephisto::kafka {

producer::~producer() {
  stop(0);
}

void producer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto self = static_cast<producer*>(opaque);
  bool ok = msg->err == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (!ok) {
    if (self->failed_.fetch_add(1, std::memory_order_relaxed) < 10)
      log().error("delivery to {} [{}] failed: {}", rd_kafka_topic_name(msg->rkt),
                  msg->partition, rd_kafka_err2str(msg->err));
  }
  if (auto batch = static_cast<delivery_batch*>(msg->_private)) {
    if (ok)
      batch->on_record(*msg);
    batch->release(ok);
  }
}

caf::error producer::start(const std::string& bootstrap,
                           const std::vector<std::string>& topics, const settings& extra) {
  settings xs{
    {"bootstrap.servers", bootstrap},
    {"client.id", "mephisto-producer"},
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"partitioner", "murmur2_random"},
    {"linger.ms", "5"},
    {"batch.num.messages", "10000"},
    {"batch.size", "1000000"},
    {"queue.buffering.max.messages", "500000"},
    {"queue.buffering.max.kbytes", "262144"},
    {"compression.codec", "none"},
  };
  xs.insert(xs.end(), extra.begin(), extra.end());
  auto conf = make_conf(xs);
  if (!conf)
    return conf.error();
  rd_kafka_conf_set_dr_msg_cb(conf->get(), on_delivery);
  rd_kafka_conf_set_opaque(conf->get(), this);
  auto rk = make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!rk)
    return rk.error();
  rk_ = std::move(*rk);
  for (auto& name : topics) {
    auto rkt = rd_kafka_topic_new(rk_.get(), name.c_str(), nullptr);
    if (rkt == nullptr)
      return make_error(errc::kafka_error, "cannot make a handle for topic " + name + ": "
                                             + rd_kafka_err2str(rd_kafka_last_error()));
    topics_.push_back(rkt);
  }
  running_ = true;
  poller_ = std::thread{[this] {
    while (running_.load(std::memory_order_relaxed))
      rd_kafka_poll(rk_.get(), 50);
  }};
  return caf::none;
}

rd_kafka_resp_err_t producer::send(uint32_t topic, int32_t partition, const void* key,
                                   size_t key_size, const void* value, size_t value_size,
                                   int64_t timestamp, delivery_batch* batch) noexcept {
  return rd_kafka_producev(
    rk_.get(), RD_KAFKA_V_RKT(topics_[topic]),
    RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
    RD_KAFKA_V_VALUE(const_cast<void*>(value), value_size),
    RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_TIMESTAMP(timestamp),
    RD_KAFKA_V_OPAQUE(batch), RD_KAFKA_V_END);
}

rd_kafka_resp_err_t producer::send_with_headers(
  uint32_t topic, const void* key, size_t key_size, const void* value, size_t value_size,
  const std::vector<std::pair<std::string, std::string>>& headers,
  delivery_batch* batch) noexcept {
  auto hdrs = rd_kafka_headers_new(headers.size());
  for (auto& [name, text] : headers)
    rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), text.data(),
                        static_cast<ssize_t>(text.size()));
  auto err = rd_kafka_producev(rk_.get(), RD_KAFKA_V_RKT(topics_[topic]),
                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                               RD_KAFKA_V_VALUE(const_cast<void*>(value), value_size),
                               RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_HEADERS(hdrs),
                               RD_KAFKA_V_OPAQUE(batch), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    rd_kafka_headers_destroy(hdrs); // librdkafka owns them only on success
  return err;
}

bool producer::flush(int timeout_ms) {
  if (!rk_)
    return true;
  return rd_kafka_flush(rk_.get(), timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

void producer::stop(int flush_timeout_ms) {
  if (!rk_)
    return;
  if (flush_timeout_ms > 0 && !flush(flush_timeout_ms))
    log().warn("producer: {} records still undelivered at shutdown",
               rd_kafka_outq_len(rk_.get()));
  running_ = false;
  if (poller_.joinable())
    poller_.join();
  // Serve the last delivery reports, then drop the handles.
  rd_kafka_poll(rk_.get(), 0);
  for (auto* t : topics_)
    rd_kafka_topic_destroy(t);
  topics_.clear();
  rk_.reset();
}

} // namespace mephisto::kafka
