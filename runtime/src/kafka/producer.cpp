#include "mephisto/kafka/producer.hpp"

#include <algorithm>
#include <cstdlib>

#include "mephisto/log.hpp"

namespace mephisto::kafka {

producer::~producer() {
  stop(0);
}

void producer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto self = static_cast<producer*>(opaque);
  bool ok = msg->err == RD_KAFKA_RESP_ERR_NO_ERROR;
  // Purged records belong to an aborted transaction: expected, not worth a log line.
  bool purged = msg->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE
                || msg->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
  if (!ok && !purged) {
    if (self->failure_sink_ != nullptr)
      self->failure_sink_->fetch_add(1, std::memory_order_relaxed);
    if (self->failed_.fetch_add(1, std::memory_order_relaxed) < 10)
      log().error("delivery to {} [{}] failed: {}", rd_kafka_topic_name(msg->rkt),
                  msg->partition, rd_kafka_err2str(msg->err));
  }
  if (auto batch = static_cast<delivery_batch*>(msg->_private)) {
    if (ok)
      batch->on_record(rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset);
    batch->release(ok);
  }
}

namespace {

int64_t conf_number(rd_kafka_conf_t* conf, const char* name) {
  char buf[64];
  size_t size = sizeof buf;
  if (rd_kafka_conf_get(conf, name, buf, &size) != RD_KAFKA_CONF_OK)
    return -1;
  return std::strtoll(buf, nullptr, 10);
}

} // namespace

caf::error producer::set_limits(rd_kafka_conf_t* conf, size_t topics,
                                const std::vector<int64_t>& max_message_bytes) {
  auto client = conf_number(conf, "message.max.bytes");
  auto batch = conf_number(conf, "batch.size");
  auto smallest = client;
  // Recomputed in place by a restart: agents may hold the array (send_buffer::limit).
  record_limits_.resize(topics);
  for (size_t i = 0; i < topics; ++i) {
    auto limit = client;
    if (i < max_message_bytes.size() && max_message_bytes[i] > 0)
      limit = std::min(limit, max_message_bytes[i]);
    smallest = std::min(smallest, limit);
    record_limits_[i] = static_cast<uint32_t>(
      std::clamp<int64_t>(limit - record_overhead, 0, UINT32_MAX));
  }
  if (batch > smallest) {
    auto value = std::to_string(smallest);
    char errstr[512];
    if (rd_kafka_conf_set(conf, "batch.size", value.c_str(), errstr, sizeof errstr)
        != RD_KAFKA_CONF_OK)
      return make_error(errc::bad_config, std::string{"batch.size "} + value + ": " + errstr);
    log().info("producer: batch.size {} (was {}): the smallest max.message.bytes of the "
               "topics written", smallest, batch);
  }
  return caf::none;
}

caf::error producer::start(const std::string& bootstrap,
                           const std::vector<std::string>& topics, const settings& extra,
                           const std::string& transactional_id,
                           const std::vector<int64_t>& max_message_bytes) {
  bootstrap_ = bootstrap;
  topic_names_ = topics;
  extra_ = extra;
  transactional_id_ = transactional_id;
  max_message_bytes_ = max_message_bytes;
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
    // librdkafka backs off up to 10 s between connection attempts to a broker that
    // refuses them: after an outage the worker would resume up to 10 s late (measured 9 s
    // on the embedded broker). One attempt a second costs nothing.
    {"reconnect.backoff.max.ms", "1000"},
  };
  if (!transactional_id.empty()) {
    xs.emplace_back("transactional.id", transactional_id);
    // As Kafka Streams: a crashed instance's open transaction blocks read_committed
    // readers of its partitions for at most this long.
    xs.emplace_back("transaction.timeout.ms", "10000");
  }
  xs.insert(xs.end(), extra.begin(), extra.end());
  auto conf = make_conf(xs);
  if (!conf)
    return conf.error();
  if (auto err = set_limits(conf->get(), topics.size(), max_message_bytes))
    return err;
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
  if (!transactional_id.empty()) {
    transactional_ = true;
    if (auto err = rd_kafka_init_transactions(rk_.get(), 30000)) {
      auto text = std::string{rd_kafka_error_string(err)};
      rd_kafka_error_destroy(err);
      return make_error(errc::transaction_failed,
                        "cannot initialize transactions (transactional.id " + transactional_id
                          + "): " + text);
    }
    if (auto err = rd_kafka_begin_transaction(rk_.get())) {
      auto text = std::string{rd_kafka_error_string(err)};
      rd_kafka_error_destroy(err);
      return make_error(errc::transaction_failed, "cannot begin a transaction: " + text);
    }
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

producer::txn_result
producer::commit_transaction(const rd_kafka_topic_partition_list_t* offsets,
                             rd_kafka_t* consumer, int timeout_ms, std::string& why) {
  auto rk = rk_.get();
  // Takes the error: fatal, abortable (abort and begin anew) or retriable (try again).
  auto failed = [&](rd_kafka_error_t* err, const char* step) {
    why = std::string{step} + ": " + rd_kafka_error_string(err);
    bool fatal = rd_kafka_error_is_fatal(err);
    bool abortable = rd_kafka_error_txn_requires_abort(err);
    rd_kafka_error_destroy(err);
    if (fatal || !abortable)
      return txn_result::fatal;
    if (auto e = rd_kafka_abort_transaction(rk, timeout_ms)) {
      why += std::string{"; abort: "} + rd_kafka_error_string(e);
      rd_kafka_error_destroy(e);
      return txn_result::fatal;
    }
    if (auto e = rd_kafka_begin_transaction(rk)) {
      why += std::string{"; begin: "} + rd_kafka_error_string(e);
      rd_kafka_error_destroy(e);
      return txn_result::fatal;
    }
    return txn_result::aborted;
  };
  for (int attempt = 0;; ++attempt) {
    rd_kafka_error_t* err = nullptr;
    const char* step = "send_offsets_to_transaction";
    if (offsets != nullptr && offsets->cnt > 0) {
      auto meta = rd_kafka_consumer_group_metadata(consumer);
      err = rd_kafka_send_offsets_to_transaction(rk, offsets, meta, timeout_ms);
      rd_kafka_consumer_group_metadata_destroy(meta);
    }
    if (err == nullptr) {
      step = "commit_transaction";
      err = rd_kafka_commit_transaction(rk, timeout_ms);
    }
    if (err == nullptr) {
      step = "begin_transaction";
      if ((err = rd_kafka_begin_transaction(rk)) == nullptr)
        return txn_result::committed;
      why = std::string{step} + ": " + rd_kafka_error_string(err);
      rd_kafka_error_destroy(err);
      return txn_result::fatal;
    }
    bool retriable = rd_kafka_error_is_retriable(err) && !rd_kafka_error_is_fatal(err)
                     && !rd_kafka_error_txn_requires_abort(err);
    if (retriable && attempt < 3) {
      log().warn("transaction: {} failed ({}), retrying", step, rd_kafka_error_string(err));
      rd_kafka_error_destroy(err);
      continue;
    }
    if (retriable) { // retries exhausted: give the transaction up
      why = std::string{step} + ": " + rd_kafka_error_string(err);
      rd_kafka_error_destroy(err);
      if (auto e = rd_kafka_abort_transaction(rk, timeout_ms)) {
        rd_kafka_error_destroy(e);
        return txn_result::fatal;
      }
      if (auto e = rd_kafka_begin_transaction(rk)) {
        rd_kafka_error_destroy(e);
        return txn_result::fatal;
      }
      return txn_result::aborted;
    }
    return failed(err, step);
  }
}

bool producer::abort_transaction(int timeout_ms, std::string& why) {
  // Let what was produced reach the broker first: aborting while the transaction's
  // partitions are still being registered fails with INVALID_TXN_STATE (librdkafka 2.0,
  // confluentinc/librdkafka#4849), a fatal error.
  // Bounded well below transaction.timeout.ms (10 s): a longer wait lets the broker time
  // the transaction out and fence this producer; abort_transaction purges what is left.
  rd_kafka_flush(rk_.get(), std::min(timeout_ms, 3000));
  for (auto step : {"abort_transaction", "begin_transaction"}) {
    auto err = step[0] == 'a' ? rd_kafka_abort_transaction(rk_.get(), timeout_ms)
                              : rd_kafka_begin_transaction(rk_.get());
    if (err != nullptr) {
      why = std::string{step} + ": " + rd_kafka_error_string(err);
      rd_kafka_error_destroy(err);
      return false;
    }
  }
  return true;
}

void producer::close() {
  running_ = false;
  if (poller_.joinable())
    poller_.join();
  if (!rk_)
    return;
  // What is still queued or in flight fails: its delivery reports release the batches.
  rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  for (int i = 0; i < 100 && rd_kafka_outq_len(rk_.get()) > 0; ++i)
    rd_kafka_poll(rk_.get(), 50);
  for (auto* t : topics_)
    rd_kafka_topic_destroy(t);
  topics_.clear();
  rk_.reset();
  transactional_ = false;
}

caf::error producer::restart() {
  close();
  auto bootstrap = bootstrap_;
  auto topics = topic_names_;
  auto extra = extra_;
  auto txn_id = transactional_id_;
  auto limits = max_message_bytes_;
  return start(bootstrap, topics, extra, txn_id, limits);
}

bool producer::flush(int timeout_ms) {
  if (!rk_)
    return true;
  return rd_kafka_flush(rk_.get(), timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

void producer::stop(int flush_timeout_ms) {
  if (!rk_)
    return;
  if (transactional_) {
    // Whatever is still open was never committed with its offsets: give it up.
    if (auto err = rd_kafka_abort_transaction(rk_.get(), 5000))
      rd_kafka_error_destroy(err);
    transactional_ = false;
  }
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
