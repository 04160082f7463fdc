#include "mephisto/actors/source.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "mephisto/log.hpp"

namespace mephisto {

namespace {

/// Runs on a librdkafka thread when the queue goes from empty to non-empty.
void on_queue_event(rd_kafka_t*, void* opaque) {
  auto w = static_cast<source_wakeup*>(opaque);
  if (!w->pending.exchange(true, std::memory_order_acq_rel))
    caf::anon_send(w->target, wake_atom::value);
}

bool has_credit(const source_state& st) {
  for (auto n : st.in_flight)
    if (n >= st.max_in_flight)
      return false;
  return true;
}

void pull(source_actor::stateful_pointer<source_state> self) {
  auto& st = self->state;
  while (!st.halted && !st.paused && has_credit(st)) {
    auto n = rd_kafka_consume_batch_queue(st.queue, 0, st.buf.data(), st.batch_size);
    if (n <= 0)
      return;
    auto batch = std::make_shared<kafka::message_batch>();
    batch->reserve(static_cast<size_t>(n));
    for (ssize_t i = 0; i < n; ++i) {
      auto* m = st.buf[i];
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
          log().warn("source {}: {}", st.where, rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        continue;
      }
      batch->push_back(m);
    }
    if (!batch->empty()) {
      st.next_offset = batch->next_offset();
      kafka::batch_ptr shared = std::move(batch);
      for (size_t i = 0; i < st.agents.size(); ++i) {
        ++st.in_flight[i];
        self->send(st.agents[i], batch_atom::value, shared);
      }
    }
    if (static_cast<size_t>(n) < st.batch_size)
      return; // drained: the callback wakes us when more arrives
  }
}

} // namespace

source_state::~source_state() {
  release_queue();
}

void source_state::release_queue() {
  if (queue == nullptr)
    return;
  // Disabling takes the queue lock, so no callback runs once this returns.
  rd_kafka_queue_cb_event_enable(queue, nullptr, nullptr);
  rd_kafka_queue_destroy(queue);
  queue = nullptr;
  delete wakeup; // drops the strong handle to our actor
  wakeup = nullptr;
}

source_actor::behavior_type source(source_actor::stateful_pointer<source_state> self,
                                   std::string where, partition_queue queue,
                                   std::vector<agent_actor> agents, int32_t batch_size,
                                   int32_t max_in_flight) {
  auto& st = self->state;
  st.where = std::move(where);
  st.queue = queue.queue;
  st.agents = std::move(agents);
  st.in_flight.assign(st.agents.size(), 0);
  st.max_in_flight = std::max(1, max_in_flight);
  st.batch_size = static_cast<size_t>(std::max(1, batch_size));
  st.buf.resize(st.batch_size);
  st.wakeup = new source_wakeup;
  st.wakeup->target = caf::actor_cast<source_actor>(self);
  rd_kafka_queue_cb_event_enable(st.queue, on_queue_event, st.wakeup);
  self->set_exit_handler([self](caf::exit_msg& msg) {
    self->state.release_queue();
    self->quit(msg.reason);
  });
  // Records may already be waiting: the callback only fires on empty -> non-empty.
  self->send(self, wake_atom::value);
  return {
    [self](wake_atom) {
      if (self->state.wakeup != nullptr)
        self->state.wakeup->pending.store(false, std::memory_order_release);
      pull(self);
    },
    [self](credit_atom, int32_t agent_slot) {
      auto& st = self->state;
      if (agent_slot >= 0 && static_cast<size_t>(agent_slot) < st.in_flight.size())
        --st.in_flight[agent_slot];
      pull(self);
    },
    [self](pause_atom) {
      // Hand out nothing more until resumed; answers where the records handed out end.
      self->state.paused = true;
      return self->state.next_offset;
    },
    [self](resume_atom) {
      self->state.paused = false;
      pull(self);
    },
    [self](halt_atom) {
      // Stop reading; batches already sent stay with the agents, who drain them.
      self->state.halted = true;
      self->state.release_queue();
      self->quit();
      return caf::ok_atom::value;
    },
  };
}

} // namespace mephisto
