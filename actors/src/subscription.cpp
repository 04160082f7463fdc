// The Kafka side of a subscription (actor_api.hpp): a consumer of every partition of one
// topic, outside the consumer group, driven by its subscription actor without blocking it.
#include <atomic>
#include <thread>

#include <caf/send.hpp>

#include <librdkafka/rdkafka.h>

#include "mephisto/actors/subscription.hpp"
#include "mephisto/kafka/admin.hpp"
#include "mephisto/kafka/config.hpp"
#include "mephisto/log.hpp"

namespace mephisto {

detail::subscription_core::~subscription_core() = default;

namespace {

/// The target of the queue's wake-up callback; lives as long as the callback is enabled.
struct wakeup {
  caf::actor target;
  std::atomic<bool> pending{false};
};

void on_queue_event(rd_kafka_t*, void* opaque) {
  auto w = static_cast<wakeup*>(opaque);
  if (!w->pending.exchange(true, std::memory_order_acq_rel))
    caf::anon_send(w->target, detail::subscription_wake_atom::value);
}

class subscription_core_impl final : public detail::subscription_core {
public:
  subscription_core_impl(env_ptr env, caf::actor worker, std::string topic,
                         kafka::handle_ptr rk)
    : env_(std::move(env)), worker_(std::move(worker)), topic_(std::move(topic)),
      rk_(std::move(rk)), queue_(rd_kafka_queue_get_consumer(rk_.get())) {
    buf_.resize(1000);
  }

  ~subscription_core_impl() override {
    // Disabling takes the queue lock: no callback runs once this returns.
    rd_kafka_queue_cb_event_enable(queue_, nullptr, nullptr);
    rd_kafka_queue_destroy(queue_);
    // Closing a consumer waits for its threads: never on the actor's scheduler thread.
    std::thread{[rk = std::move(rk_), env = std::move(env_)]() mutable {
      rd_kafka_consumer_close(rk.get());
      rk.reset();
    }}.detach();
  }

  void start(const caf::actor& target) override {
    wake_.target = target;
    rd_kafka_queue_cb_event_enable(queue_, on_queue_event, &wake_);
    caf::anon_send(target, detail::subscription_wake_atom::value); // records may wait already
  }

  size_t fetch(size_t max, const std::function<void(const raw&)>& fn) override {
    if (buf_.size() < max)
      buf_.resize(max);
    auto n = rd_kafka_consume_batch_queue(queue_, 0, buf_.data(), max);
    if (n <= 0)
      return 0;
    for (ssize_t i = 0; i < n; ++i) {
      auto* m = buf_[i];
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::string_view key{static_cast<const char*>(m->key), m->key_len};
        std::string_view value{static_cast<const char*>(m->payload), m->len};
        raw r{m->key ? &key : nullptr, m->payload ? &value : nullptr, m->partition, m->offset,
              rd_kafka_message_timestamp(m, nullptr)};
        fn(r);
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        log().warn("subscription to {}: {}", topic_, rd_kafka_message_errstr(m));
      }
      rd_kafka_message_destroy(m);
    }
    return static_cast<size_t>(n);
  }

  void rearm() override { wake_.pending.store(false, std::memory_order_release); }

  const caf::actor& worker_actor() const override { return worker_; }

  const std::string& topic_name() const override { return topic_; }

private:
  env_ptr env_; ///< the worker waits for it (and so for the closing thread)
  caf::actor worker_;
  std::string topic_;
  kafka::handle_ptr rk_;
  rd_kafka_queue_t* queue_;
  wakeup wake_;
  std::vector<rd_kafka_message_t*> buf_;
};

} // namespace

expected<std::shared_ptr<detail::subscription_core>>
make_subscription_core(env_ptr env, caf::actor worker, uint32_t topic,
                       const subscription_options& opts) {
  auto& name = env->topo->topics[topic].kafka_name;
  auto partitions = env->layout.partitions[topic];
  auto conf = kafka::make_conf(kafka::with_client_properties({
    {"bootstrap.servers", env->layout.bootstrap},
    {"group.id", env->topo->app_id + "-subscription"}, // needed by librdkafka; never joined
    {"client.id", env->topo->app_id + "-subscription"},
    {"enable.auto.commit", "false"},
    {"enable.auto.offset.store", "false"},
    {"enable.partition.eof", "false"},
    {"isolation.level", "read_committed"},
    {"fetch.wait.max.ms", "50"},
    {"queued.max.messages.kbytes", "8192"},
  }, env->opts.client_properties, kafka::client_kind::consumer));
  if (!conf)
    return conf.error();
  auto rk = kafka::make_handle(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!rk)
    return rk.error();
  rd_kafka_poll_set_consumer(rk->get());
  auto list = rd_kafka_topic_partition_list_new(partitions);
  auto start = opts.from == subscribe_from::earliest ? RD_KAFKA_OFFSET_BEGINNING
                                                     : RD_KAFKA_OFFSET_END;
  for (int32_t p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(list, name.c_str(), p)->offset = start;
  auto err = rd_kafka_assign(rk->get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return make_error(errc::kafka_error,
                      "subscription to " + name + ": " + rd_kafka_err2str(err));
  return std::shared_ptr<detail::subscription_core>{
    std::make_shared<subscription_core_impl>(std::move(env), std::move(worker), name,
                                             std::move(*rk))};
}

} // namespace mephisto
