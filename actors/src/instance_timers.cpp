#include "mephisto/actors/instance_timers.hpp"

#include <algorithm>
#include <climits>
#include <memory>
#include <vector>

#include "agent_steps.hpp"
#include "mephisto/context.hpp"
#include "mephisto/log.hpp"
#include "mephisto/send_buffer.hpp"

namespace mephisto {

namespace {

/// Warns once about the timers' records of one run that the broker did not take.
class timer_delivery final : public kafka::delivery_batch {
protected:
  void on_complete(bool ok) noexcept override {
    if (!ok)
      log().warn("timers on every instance: records of a run were not delivered");
  }
};

struct timers_state {
  env_ptr env;
  kafka::record_sink* sink = nullptr;
  std::unique_ptr<context> ctx;
  send_buffer out;
  size_t produced = 0;                  ///< records of `out` enqueued so far
  timer_delivery* delivery = nullptr;   ///< of `out`, while it is being produced
  std::vector<int64_t> due;             ///< per timer, ms since the epoch
};

/// Enqueues what `out` holds; false when the producer's queue is full (retried later).
bool produce(timers_state& st) {
  if (st.out.empty())
    return true;
  if (st.delivery == nullptr)
    st.delivery = new timer_delivery;
  while (st.produced < st.out.size()) {
    auto& r = st.out[st.produced];
    auto key = st.out.key(r);
    auto value = st.out.value(r);
    st.delivery->add(1);
    auto err = st.sink->send(r.topic, r.partition, r.has_key ? key.data() : nullptr,
                             key.size(), r.has_value ? value.data() : nullptr, value.size(),
                             r.timestamp, st.delivery);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      st.delivery->add(-1);
      return false;
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      st.delivery->add(-1);
      st.env->report.stats->produce_errors.fetch_add(1, std::memory_order_relaxed);
      log().warn("timers on every instance: a record was refused: {}", rd_kafka_err2str(err));
    }
    ++st.produced;
  }
  st.delivery->release(); // the guard: done once every record is acknowledged
  st.delivery = nullptr;
  st.produced = 0;
  st.out.clear();
  return true;
}

/// Runs the timers that are due at `now`.
void run_due(timers_state& st, int64_t now) {
  auto& timers = st.env->topo->instance_timers;
  auto& counters = detail::context_access::counters(*st.ctx);
  detail::context_access::set_wall_clock(*st.ctx, now);
  detail::context_access::begin_batch(*st.ctx, &st.out);
  for (size_t i = 0; i < timers.size(); ++i) {
    if (now < st.due[i])
      continue;
    auto& t = timers[i];
    st.due[i] = agent_steps::next_time(t, now); // missed times are not made up
    auto mark = detail::context_access::begin_call(*st.ctx, now);
    try {
      t.fn(*st.ctx);
    } catch (const std::exception& e) {
      detail::context_access::undo_call(*st.ctx, mark);
      log().warn("a timer on every instance failed: {}; its sends were dropped, it runs "
                 "again at its next time",
                 e.what());
    }
  }
  auto& stats = *st.env->report.stats;
  stats.sent.fetch_add(counters.sent, std::memory_order_relaxed);
  stats.failures.fetch_add(counters.failures, std::memory_order_relaxed);
  counters = {};
}

void tick(instance_timers_actor::pointer self, timers_state& st) {
  auto now = wall_clock_ms(*st.env);
  if (produce(st)) {
    run_due(st, now);
    produce(st);
  }
  if (st.env->opts.window_tick_ms <= 0)
    return; // the test driver ticks us itself
  auto next = *std::min_element(st.due.begin(), st.due.end());
  auto wait = st.out.empty() ? std::clamp<int64_t>(next - now, 1, 1000) : int64_t{1};
  self->delayed_send(self, std::chrono::milliseconds(wait), tick_atom::value);
}

} // namespace

instance_timers_actor::behavior_type
instance_timers(instance_timers_actor::pointer self, env_ptr env, kafka::record_sink* sink) {
  auto st = std::make_shared<timers_state>();
  st->env = std::move(env);
  st->sink = sink;
  st->ctx = detail::context_access::make("timers", "", -1, 0);
  detail::context_access::set_globals(*st->ctx, &st->env->services.globals);
  auto now = wall_clock_ms(*st->env);
  for (auto& t : st->env->topo->instance_timers)
    st->due.push_back(agent_steps::next_time(t, now));
  self->attach_functor([st] {
    if (st->delivery != nullptr) { // never enqueued in full: let the records go
      st->delivery->release();
      st->delivery = nullptr;
    }
  });
  self->send(self, tick_atom::value);
  return {[self, st](tick_atom) { tick(self, *st); }};
}

} // namespace mephisto
