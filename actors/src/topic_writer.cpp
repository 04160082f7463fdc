// The library side of topic writers (topic_writer.hpp): the writer actor's job flow, and
// the Kafka side, which produces through the worker's own writer producer.
#include "mephisto/topic_writer.hpp"

#include <caf/send.hpp>

#include <librdkafka/rdkafka.h>

#include "mephisto/actors/topic_writer_core.hpp"
#include "mephisto/kafka/delivery.hpp"

namespace mephisto {

namespace detail {

writer_core::~writer_core() = default;

/// A job's delivery accounting: one count per enqueued record plus the guard that
/// `seal` drops; the last count gone sends the ack (on the producer's delivery thread).
class writer_core::job final : public kafka::delivery_batch {
public:
  job(uint64_t id, caf::actor to) : id_(id), to_(std::move(to)) {}

  void on_record(const char*, int32_t partition, int64_t offset) noexcept override {
    partition_ = partition;
    offset_ = offset;
  }

  /// A record could not be enqueued: the job fails (set before `seal`).
  void fail(std::string why) { why_ = std::move(why); }

protected:
  void on_complete(bool ok) noexcept override {
    write_ack ack{id_, partition_, offset_, why_};
    if (!ok && ack.error.empty())
      ack.error = "Kafka did not take a record (the log says why)";
    caf::anon_send(to_, std::move(ack));
  }

private:
  uint64_t id_;
  caf::actor to_;
  int32_t partition_ = -1;
  int64_t offset_ = -1;
  std::string why_;
};

void writer_pump(writer_self self) {
  auto& st = self->state;
  while (!st.waiting.empty()) {
    auto& j = st.waiting.front();
    if (j.in_kafka == nullptr) { // not begun: is there room?
      if (st.in_flight > 0 && st.in_flight + j.records.size() > st.max_in_flight)
        return;
      j.in_kafka = st.core->begin(st.next_id, caf::actor{self});
      j.reserved = j.records.size();
      st.in_flight += j.reserved;
    }
    for (; j.produced < j.records.size(); ++j.produced) {
      auto& [key, value] = j.records[j.produced];
      auto res = st.core->produce(j.in_kafka, key, value, j.why);
      if (res == writer_core::status::queue_full) {
        if (!st.retry_scheduled) { // the producer's queue is full: try again soon
          st.retry_scheduled = true;
          self->delayed_send(self, std::chrono::milliseconds(1), writer_retry_atom::value);
        }
        return;
      }
      if (res == writer_core::status::failed)
        break; // the job fails as a whole
    }
    st.core->seal(j.in_kafka);
    j.in_kafka = nullptr;
    j.records.clear(); // the producer copied them
    j.records.shrink_to_fit();
    st.sent.emplace(st.next_id++, std::move(j));
    st.waiting.pop_front();
  }
}

void writer_acked(writer_self self, write_ack& ack) {
  auto& st = self->state;
  auto it = st.sent.find(ack.id);
  if (it == st.sent.end())
    return;
  auto& j = it->second;
  st.in_flight -= j.reserved;
  if (!ack.error.empty()) {
    ++st.failed;
    j.answer.deliver(make_error(errc::produce_failed, st.core->topic_name() + ": " + ack.error));
  } else if (j.single) {
    ++st.acknowledged;
    j.answer.deliver(record_position{ack.partition, ack.offset});
  } else {
    st.acknowledged += j.produced;
    j.answer.deliver(batch_written{j.produced});
  }
  st.sent.erase(it);
  writer_pump(self);
}

void writer_stop(writer_self self) {
  auto& st = self->state;
  auto err = make_error(errc::stopped, "the worker stopped");
  for (auto& [id, j] : st.sent)
    j.answer.deliver(err);
  for (auto& j : st.waiting) {
    if (j.in_kafka != nullptr)
      st.core->seal(j.in_kafka); // its ack goes nowhere
    j.answer.deliver(err);
  }
  st.sent.clear();
  st.waiting.clear();
  self->quit();
}

} // namespace detail

namespace {

class writer_core_impl final : public detail::writer_core {
public:
  writer_core_impl(env_ptr env, kafka::producer* producer, uint32_t topic, caf::actor worker)
    : env_(std::move(env)), producer_(producer), topic_(topic), worker_(std::move(worker)) {
  }

  job* begin(uint64_t id, const caf::actor& ack_to) override { return new job(id, ack_to); }

  status produce(job* j, const std::string& key, const std::string& value, std::string& why,
                 const headers* hdrs) override {
    j->add(1);
    auto err = hdrs == nullptr
                 ? producer_->send(topic_, -1, key.data(), key.size(), value.data(),
                                   value.size(), 0, j)
                 : producer_->send_with_headers(topic_, key.data(), key.size(), value.data(),
                                                value.size(), *hdrs, j);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
      return status::queued;
    j->release(); // never handed to librdkafka (the guard keeps the job)
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
      return status::queue_full;
    why = rd_kafka_err2str(err);
    j->fail(why);
    return status::failed;
  }

  void seal(job* j) override { j->release(); }

  const caf::actor& worker_actor() const override { return worker_; }

  const std::string& topic_name() const override {
    return env_->topo->topics[topic_].kafka_name;
  }

private:
  env_ptr env_; ///< the worker waits for it: the producer outlives this core
  kafka::producer* producer_;
  uint32_t topic_;
  caf::actor worker_;
};

} // namespace

std::shared_ptr<detail::writer_core> make_writer_core(env_ptr env, kafka::producer* producer,
                                                      uint32_t topic, caf::actor worker) {
  return std::make_shared<writer_core_impl>(std::move(env), producer, topic, std::move(worker));
}

} // namespace mephisto
