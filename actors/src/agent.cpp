#include "mephisto/actors/agent.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "mephisto/error.hpp"
#include "mephisto/log.hpp"

namespace mephisto {

namespace {

using self_ptr = caf::stateful_actor<agent_state>*;

/// Reports the completion of one batch's deliveries to its agent.
class agent_delivery final : public kafka::delivery_batch {
public:
  agent_delivery(caf::actor agent, uint64_t seq) : agent_(std::move(agent)), seq_(seq) {}

protected:
  void on_complete(bool ok) noexcept override {
    caf::anon_send(agent_, delivered_atom::value, seq_, ok);
  }

private:
  caf::actor agent_;
  uint64_t seq_;
};

void next(self_ptr self);

void fail(self_ptr self, caf::error err) {
  log().error("{}: {}", self->state.where, render(err));
  if (self->state.draining)
    self->state.drain_promise.deliver(err);
  self->quit(std::move(err));
}

void publish_counters(agent_state& st) {
  auto& c = st.ctx->counters();
  auto& s = *st.env->stats;
  s.events.fetch_add(c.events - st.reported.events, std::memory_order_relaxed);
  s.decode_errors.fetch_add(c.decode_errors - st.reported.decode_errors,
                            std::memory_order_relaxed);
  s.failures.fetch_add(c.failures - st.reported.failures, std::memory_order_relaxed);
  s.sent.fetch_add(c.sent - st.reported.sent, std::memory_order_relaxed);
  s.batches.fetch_add(1, std::memory_order_relaxed);
  st.reported = c;
}

void check_drained(self_ptr self) {
  auto& st = self->state;
  if (st.draining && !st.current && st.pending.empty() && st.tracker.idle()) {
    st.draining = false;
    st.drain_promise.deliver(st.tracker.committable());
    self->quit();
  }
}

void finish(self_ptr self) {
  auto& st = self->state;
  for (size_t i = 0; i < st.spec.shards.size(); ++i) {
    st.ctx->lend(st.spec.shards[i].first, nullptr);
    self->send(st.spec.shards[i].second, give_back_atom::value, std::move(st.leases[i]));
  }
  auto delivery = st.delivery;
  st.delivery = nullptr;
  delivery->release(); // drop the guard: may complete right here
  self->send(st.current_source, credit_atom::value, st.spec.slot);
  publish_counters(st);
  st.current.reset();
  st.current_source = nullptr;
  next(self);
}

void produce(self_ptr self) {
  auto& st = self->state;
  auto& prod = *st.env->producer;
  while (st.produce_pos < st.out.size()) {
    auto& r = st.out[st.produce_pos];
    auto key = st.out.key(r);
    auto value = st.out.value(r);
    st.delivery->add(1);
    auto err = prod.send(r.topic, r.partition, r.has_key ? key.data() : nullptr, key.size(),
                         r.has_value ? value.data() : nullptr, value.size(), r.timestamp,
                         st.delivery);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      st.delivery->add(-1);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        self->delayed_send(self, std::chrono::milliseconds(1), resume_atom::value);
        return;
      }
      fail(self, make_error(errc::produce_failed,
                            std::string{"cannot produce: "} + rd_kafka_err2str(err)));
      return;
    }
    ++st.produce_pos;
  }
  finish(self);
}

void run(self_ptr self) {
  auto& st = self->state;
  st.out.clear();
  st.ctx->begin_batch(&st.out);
  st.body->process(st.current->messages(), *st.ctx, st);
  for (size_t i = 0; i < st.spec.shards.size(); ++i) {
    auto table = st.spec.shards[i].first;
    st.leases[i]->take_changes(st.out, st.env->topo->changelog_index(table),
                               st.spec.partition);
  }
  auto seq = st.tracker.open(st.current->next_offset());
  st.delivery = new agent_delivery(caf::actor{self}, seq);
  st.produce_pos = 0;
  produce(self);
}

void next(self_ptr self) {
  auto& st = self->state;
  if (st.current || st.pending.empty()) {
    check_drained(self);
    return;
  }
  std::tie(st.current, st.current_source) = std::move(st.pending.front());
  st.pending.pop_front();
  if (st.spec.shards.empty()) {
    run(self);
    return;
  }
  st.leases_missing = st.spec.shards.size();
  auto timeout = std::chrono::milliseconds(st.env->opts.drain_timeout_ms);
  for (size_t i = 0; i < st.spec.shards.size(); ++i) {
    self->request(st.spec.shards[i].second, timeout, lease_atom::value)
      .then(
        [self, i](store_ptr& store) {
          auto& st = self->state;
          st.ctx->lend(st.spec.shards[i].first, store.get());
          st.leases[i] = std::move(store);
          if (--st.leases_missing == 0)
            run(self);
        },
        [self, i](caf::error& err) {
          auto& st = self->state;
          fail(self, make_error(errc::recovery_failed,
                                "table " + st.env->topo->tables[st.spec.shards[i].first].name
                                  + " unavailable: " + render(err)));
        });
  }
}

} // namespace

bool agent_state::may_log() {
  auto now = std::chrono::steady_clock::now();
  if (now - log_window > std::chrono::seconds(1)) {
    if (suppressed > 0)
      log().warn("{}: {} more skipped events not logged", where, suppressed);
    log_window = now;
    logged_in_window = 0;
    suppressed = 0;
  }
  if (logged_in_window++ < 10)
    return true;
  ++suppressed;
  return false;
}

void agent_state::decode_error(const context& c, std::string_view why) {
  if (may_log())
    log().warn("{}: skipped undecodable event at {} [{}] offset {}: {}", where,
               c.topic_name(), c.partition(), c.offset(), why);
}

void agent_state::failure(const context& c, std::string_view what) {
  if (may_log())
    log().error("{}: user function failed at {} [{}] offset {}, event skipped: {}", where,
                c.topic_name(), c.partition(), c.offset(), what);
}

caf::behavior agent(caf::stateful_actor<agent_state>* self, env_ptr env, agent_spec spec) {
  auto& st = self->state;
  auto& def = env->topo->agents[spec.agent];
  st.topic = static_cast<uint32_t>(def.topic);
  auto& topic_name = env->topo->topics[st.topic].kafka_name;
  st.where = "agent " + def.name + " on " + topic_name + " [" + std::to_string(spec.partition)
             + "]";
  st.body = def.make_body();
  st.ctx = std::make_unique<context>(def.name, topic_name, spec.partition,
                                     env->topo->tables.size());
  st.leases.resize(spec.shards.size());
  st.env = std::move(env);
  st.spec = std::move(spec);
  return {
    [self](batch_atom, kafka::batch_ptr& batch) {
      auto& st = self->state;
      st.pending.emplace_back(std::move(batch),
                              caf::actor_cast<caf::actor>(self->current_sender()));
      next(self);
    },
    [self](resume_atom) { produce(self); },
    [self](delivered_atom, uint64_t seq, bool ok) {
      auto& st = self->state;
      if (!ok) {
        fail(self, make_error(errc::produce_failed,
                              "records of a batch could not be delivered; its offsets stay "
                              "uncommitted"));
        return;
      }
      if (st.tracker.complete(seq))
        self->send(st.spec.progress_sink, progress_atom::value, st.topic, st.spec.partition,
                   st.spec.slot, st.tracker.committable());
      check_drained(self);
    },
    [self](drain_atom) {
      auto& st = self->state;
      st.draining = true;
      st.drain_promise = self->make_response_promise();
      check_drained(self);
    },
  };
}

} // namespace mephisto
