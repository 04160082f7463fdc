// The agent's time-driven work (agent.hpp): punctuators run at the end of a batch, and the
// tick that makes an idle agent run an empty batch so that wall-clock punctuators and
// windowed tables closing on the wall clock still run.

#include <algorithm>

#include "agent_steps.hpp"

#include "mephisto/log.hpp"

namespace mephisto::agent_steps {

void punctuate(self_ptr self) {
  auto& st = self->state;
  auto& punctuators = st.punctuators;
  if (punctuators.empty())
    return;
  if (st.current)
    for (auto& rec : st.current->records())
      st.stream_time = std::max(st.stream_time, rec.timestamp);
  st.punctuator_due.resize(punctuators.size(), -1);
  for (size_t i = 0; i < punctuators.size(); ++i) {
    auto& p = punctuators[i];
    auto now = p.time == punctuation_time::wall_clock ? st.ctx->wall_clock_ms() : st.stream_time;
    auto& due = st.punctuator_due[i];
    if (now < 0)
      continue;
    if (due < 0) // stream time: the count starts at the first event
      due = (st.current && !st.current->empty() ? st.current->records().front().timestamp
                                                 : now)
            + p.every.count();
    if (now < due)
      continue;
    due = next_time(p, now); // missed times are not made up
    auto mark = detail::context_access::begin_call(*st.ctx, now);
    try {
      p.fn(*st.ctx);
    } catch (const restart_partition&) {
      throw;
    } catch (const store_error&) {
      throw;
    } catch (const std::exception& e) {
      detail::context_access::undo_call(*st.ctx, mark);
      log().warn("{}: a punctuator failed: {}; its sends and table changes were dropped, it "
                 "runs again in {} ms",
                 st.where, e.what(), p.every.count());
    }
  }
}

int64_t next_time(const punctuator& p, int64_t now) {
  if (!p.next_due)
    return now + p.every.count();
  auto next = p.next_due(now);
  return next < 0 ? INT64_MAX : next;
}

int64_t tick_period(const agent_state& st) {
  if (st.env->opts.window_tick_ms <= 0)
    return 0; // the test driver ticks its agents itself
  int64_t period = 0;
  auto shorter = [&](int64_t ms) { period = period == 0 ? ms : std::min(period, ms); };
  for (auto& [table, shard] : st.spec.shards)
    if (st.env->topo->tables[table].close_on_wall_clock)
      shorter(st.env->opts.window_tick_ms);
  for (auto& p : st.punctuators)
    if (p.time == punctuation_time::wall_clock)
      shorter(p.every.count());
  // A batch agent's held events wait at most `within` plus a quarter of it.
  if (auto within = st.body->flush_period_ms(); within > 0)
    shorter(std::max<int64_t>(10, within / 4));
  return period;
}

} // namespace mephisto::agent_steps
