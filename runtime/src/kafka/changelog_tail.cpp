#include "mephisto/kafka/changelog_tail.hpp"

#include <algorithm>
#include <cstdlib>

namespace mephisto::kafka {

namespace {

/// A numeric property of `conf` (librdkafka's default when not set), or `fallback`.
size_t conf_number(rd_kafka_conf_t* conf, const char* name, size_t fallback) {
  char buf[64];
  size_t size = sizeof(buf);
  if (rd_kafka_conf_get(conf, name, buf, &size) != RD_KAFKA_CONF_OK)
    return fallback;
  return std::strtoull(buf, nullptr, 10);
}

} // namespace

caf::error changelog_tail::open(const changelog_tail_options& opts) {
  close();
  settings xs{
    {"bootstrap.servers", opts.bootstrap},
    {"client.id", opts.client_id},
    {"group.id", opts.group_id},
    {"enable.auto.commit", "false"},
    // Tells where a partition ends, also when its last offsets hold no record (markers of
    // transactions, compacted records).
    {"enable.partition.eof", "true"},
    {"auto.offset.reset", opts.offset_reset},
    {"isolation.level", "read_committed"},
    {"fetch.wait.max.ms", std::to_string(opts.fetch_wait.count())},
  };
  xs.insert(xs.end(), opts.tuning.begin(), opts.tuning.end());
  auto conf = make_conf(xs);
  if (!conf)
    return conf.error();
  queued_min_ = conf_number(conf->get(), "queued.min.messages", 100000);
  queued_max_bytes_ = conf_number(conf->get(), "queued.max.messages.kbytes", 65536) * 1024;
  auto rk = make_handle(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!rk)
    return rk.error();
  rk_ = std::move(*rk);
  queue_.reset(rd_kafka_queue_get_consumer(rk_.get()));
  return caf::none;
}

rd_kafka_resp_err_t changelog_tail::assign(const std::vector<changelog_position>& positions) {
  auto parts = rd_kafka_topic_partition_list_new(static_cast<int>(positions.size()));
  for (auto& pos : positions)
    rd_kafka_topic_partition_list_add(parts, pos.topic.c_str(), pos.partition)->offset
      = pos.next > 0 || pos.exact ? pos.next : RD_KAFKA_OFFSET_BEGINNING;
  auto err = rd_kafka_assign(rk_.get(), parts);
  rd_kafka_topic_partition_list_destroy(parts);
  assigned_ = positions;
  fetch_parked_ = false;
  return err;
}

rd_kafka_resp_err_t changelog_tail::query_watermarks(const std::string& topic,
                                                     int32_t partition, int64_t& low,
                                                     int64_t& high,
                                                     std::chrono::milliseconds timeout) {
  auto err = rd_kafka_query_watermark_offsets(rk_.get(), topic.c_str(), partition, &low, &high,
                                              static_cast<int>(timeout.count()));
  if (err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION || err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
    // A client made while the broker was unreachable caches the topic without partitions
    // and would not ask again for minutes (topic.metadata.refresh.interval.ms): ask now,
    // which refreshes the cache, and query once more.
    auto rkt = rd_kafka_topic_new(rk_.get(), topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    if (rkt != nullptr
        && rd_kafka_metadata(rk_.get(), 0, rkt, &md, static_cast<int>(timeout.count()))
             == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_metadata_destroy(md);
      err = rd_kafka_query_watermark_offsets(rk_.get(), topic.c_str(), partition, &low, &high,
                                             static_cast<int>(timeout.count()));
    }
    if (rkt != nullptr)
      rd_kafka_topic_destroy(rkt);
  }
  return err;
}

rd_kafka_resp_err_t changelog_tail::cached_watermarks(const std::string& topic,
                                                      int32_t partition, int64_t& low,
                                                      int64_t& high) {
  return rd_kafka_get_watermark_offsets(rk_.get(), topic.c_str(), partition, &low, &high);
}

changelog_batch changelog_tail::read(std::chrono::milliseconds wait, size_t max) {
  changelog_batch batch;
  if (!queue_)
    return batch;
  // librdkafka stops fetching when it finds its queue full after a fetch. Only this
  // reader takes from the queue, at most `max_batch` per read: a queue that was full at
  // any time since the last read is still within `max_batch` of full now. (Checking for
  // full alone missed a fetch that filled the queue just as a read took from it, and a
  // restore stalled a second, about 1 run in 10.)
  auto queued = rd_kafka_queue_length(queue_.get());
  if (queued + max_batch >= queued_min_
      || static_cast<double>(queued) * value_bytes_ >= 0.9 * static_cast<double>(queued_max_bytes_))
    fetch_parked_ = true;
  batch.messages_.resize(std::min(max, max_batch));
  batch.count_ = rd_kafka_consume_batch_queue(queue_.get(), static_cast<int>(wait.count()),
                                              batch.messages_.data(), batch.messages_.size());
  batch.messages_.resize(batch.count_ > 0 ? static_cast<size_t>(batch.count_) : 0);
  if (!batch.messages_.empty()) {
    size_t bytes = 0;
    for (auto* m : batch.messages_)
      bytes += m->len;
    value_bytes_ = 0.5 * value_bytes_
                   + 0.5 * static_cast<double>(bytes) / static_cast<double>(batch.messages_.size());
  }
  // Woken at half, so that the next fetch comes before the reader runs dry.
  queued = rd_kafka_queue_length(queue_.get());
  if (fetch_parked_ && queued < queued_min_ / 2
      && static_cast<double>(queued) * value_bytes_ < 0.5 * static_cast<double>(queued_max_bytes_)) {
    fetch_parked_ = false;
    wake_fetchers();
  }
  return batch;
}

void changelog_tail::wake_fetchers() {
  // One request per partition (their leaders may differ; a restore assigns one, a standby
  // tail its replicas, of which the first 16). The request wakes the broker thread as it
  // is queued there: its answer is not needed, so the wait is short.
  size_t asked = 0;
  for (auto& pos : assigned_) {
    if (++asked > 16)
      break;
    int64_t low = 0;
    int64_t high = 0;
    rd_kafka_query_watermark_offsets(rk_.get(), pos.topic.c_str(), pos.partition, &low, &high,
                                     10);
  }
  ++fetcher_wakes_;
}

void changelog_tail::close() {
  queue_.reset();
  if (rk_)
    rd_kafka_consumer_close(rk_.get());
  rk_.reset();
  assigned_.clear();
}

changelog_batch& changelog_batch::operator=(changelog_batch&& other) noexcept {
  if (this != &other) {
    clear();
    messages_ = std::move(other.messages_);
    count_ = other.count_;
    other.messages_.clear();
  }
  return *this;
}

void changelog_batch::clear() noexcept {
  for (auto* m : messages_)
    rd_kafka_message_destroy(m);
  messages_.clear();
}

changelog_event changelog_batch::iterator::operator*() const {
  const rd_kafka_message_t* m = *at_;
  changelog_event ev;
  ev.topic = m->rkt != nullptr ? rd_kafka_topic_name(m->rkt) : "";
  ev.partition = m->partition;
  ev.offset = m->offset;
  switch (m->err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      ev.kind = changelog_event::record;
      ev.key = std::string_view{static_cast<const char*>(m->key), m->key_len};
      if (m->payload != nullptr)
        ev.value.emplace(static_cast<const char*>(m->payload), m->len);
      break;
    case RD_KAFKA_RESP_ERR__PARTITION_EOF:
      ev.kind = changelog_event::end_of_partition;
      break;
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
      ev.kind = changelog_event::offset_lost;
      ev.reason = rd_kafka_message_errstr(m);
      break;
    default:
      ev.kind = changelog_event::error;
      ev.reason = rd_kafka_message_errstr(m);
  }
  return ev;
}

} // namespace mephisto::kafka
