#include "mephisto/actors/agent.hpp"

#include "agent_delivery.hpp"
#include "agent_steps.hpp"

#include <algorithm>

#include <caf/typed_event_based_actor.hpp>
#include <caf/send.hpp>

#include "mephisto/error.hpp"
#include "mephisto/log.hpp"

namespace mephisto::agent_steps {

// The steps only this file uses; `fail` and `finish` (agent_steps.hpp) are shared with
// agent_produce.cpp.
namespace {

/// Applies the durable writes of confirmed batches, in batch order. Under exactly-once a
/// batch is confirmed when its transaction committed, otherwise when it was delivered.
void apply_writes(self_ptr self) {
  auto& st = self->state;
  while (!st.writes.empty()) {
    auto& w = st.writes.front();
    if (!w.delivered || (st.env->opts.exactly_once() && w.seq >= st.committed_batches))
      return;
    for (size_t i = 0; i < w.writes.size(); ++i) {
      if (!w.writes[i])
        continue;
      if (auto err = w.writes[i]->apply(w.next_offsets[i])) {
        fail(self, std::move(err));
        return;
      }
    }
    st.writes.pop_front();
  }
}

void next(self_ptr self);

} // namespace

void fail(self_ptr self, caf::error err) {
  log().error("{}: {}", self->state.where, render(err));
  if (self->state.draining)
    self->state.drain_promise.deliver(err);
  self->quit(std::move(err));
}

namespace {

/// A table read found the local store untrustworthy (the store condemned itself): the
/// partition restarts, its table partition rebuilt from the whole changelog, and the
/// batch runs again from the last committed offset. Not the event's fault: no retry, no
/// dead letter.
void store_failed(self_ptr self, const store_error& e) {
  self->state.env->report.stats->store_errors.fetch_add(1, std::memory_order_relaxed);
  fail(self, make_error(errc::store_failed,
                        std::string{e.what()} + "; restarting the partition with the local "
                                                "store rebuilt from the changelog"));
}

/// Queues a batch without events (no source to credit) and runs it: what a tick, or a batch
/// agent's flush before a pause or drain, needs to run punctuators, close windows or run
/// held events.
void run_empty_batch(self_ptr self) {
  static const kafka::batch_ptr empty = std::make_shared<const kafka::message_batch>();
  self->state.pending.emplace_back(empty, source_actor{});
  next(self);
}

void check_drained(self_ptr self) {
  auto& st = self->state;
  if ((st.pause_pending || st.draining) && !st.current && st.pending.empty()
      && st.body->held_offset() >= 0) {
    // A batch agent runs what it holds first (continue_batch flushes all of it).
    run_empty_batch(self);
    return;
  }
  if (st.pause_pending && !st.current && st.pending.empty()) {
    st.pause_pending = false;
    st.paused = true;
    st.paused_at = st.produced_batches;
    st.pause_promise.deliver(caf::ok_atom::value);
  }
  if (st.draining && !st.current && st.pending.empty() && st.tracker.idle()
      && st.writes.empty()) {
    st.draining = false;
    st.drain_promise.deliver(st.tracker.committable());
    self->quit();
  }
}

} // namespace

void finish(self_ptr self) {
  auto& st = self->state;
  for (size_t i = 0; i < st.spec.shards.size(); ++i) {
    detail::context_access::lend(*st.ctx, st.spec.shards[i].first, nullptr);
    self->send(st.spec.shards[i].second, give_back_atom::value, std::move(st.leases[i]));
  }
  auto delivery = st.delivery;
  st.delivery = nullptr;
  delivery->release(); // drop the guard: may complete right here
  auto& topic = st.env->topo->topics[st.topic];
  auto slow = st.env->services.faults ? st.env->services.faults->delay_of(
                topic.name, topic.kafka_name, st.spec.partition)
                                      : std::chrono::milliseconds{0};
  if (!st.current_source) {
    // An empty batch of the tick or of a batch agent's flush: no credit to return.
  } else if (slow.count() > 0) { // an injected slow partition (crash tests)
    self->delayed_send(st.current_source, slow, credit_atom::value, st.spec.slot);
  } else {
    self->send(st.current_source, credit_atom::value, st.spec.slot);
  }
  st.publish_counters();
  st.env->report.stats->note_mailbox(self->mailbox().size());
  st.current.reset();
  st.current_source = nullptr;
  next(self);
}

namespace {

/// Runs the user function from `event_pos` on; a throwing event is retried after a
/// backoff or, after the last attempt, dead-lettered. Then stages the changelog records
/// and produces the batch.
void continue_batch(self_ptr self) {
  auto& st = self->state;
  auto msgs = st.current->records();
  auto& counters = detail::context_access::counters(*st.ctx);
  auto& opts = st.env->opts;
  while (st.event_pos < msgs.size()) {
    try {
      auto done = st.body->process(msgs.subspan(st.event_pos), *st.ctx, st);
      if (done > 0)
        st.attempts = 0; // the event that failed before went through
      st.event_pos += done;
    } catch (const restart_partition& e) {
      fail(self, make_error(errc::partition_failed,
                            std::string{"the user function asked for a restart: "} + e.what()));
      return;
    } catch (const store_error& e) {
      store_failed(self, e);
      return;
    }
    // A store error the user function caught still makes the store untrustworthy.
    for (auto& lease : st.leases)
      if (auto* err = lease ? lease->failure() : nullptr) {
        store_failed(self, *err);
        return;
      }
    if (st.event_pos == msgs.size())
      break;
    if (++st.attempts < opts.retry_attempts) {
      ++counters.retries;
      --counters.events; // counted again when it runs again
      auto backoff = std::min<int64_t>(opts.retry_backoff_max_ms,
                                       int64_t{opts.retry_backoff_ms} << (st.attempts - 1));
      self->delayed_send(self, std::chrono::milliseconds(backoff), retry_atom::value);
      return;
    }
    ++counters.failures;
    if (!st.body->abandon(*st.ctx, st, st.last_error, st.attempts))
      st.add_dead_letter(msgs[st.event_pos], "exception", st.last_error, st.attempts);
    st.attempts = 0;
    ++st.event_pos;
  }
  // A batch agent runs the events it held long enough; a failure retries after the
  // backoff like an event's.
  if (!st.body->flush_held(*st.ctx, st, st.pause_pending || st.draining)) {
    if (++st.attempts < opts.retry_attempts) {
      ++counters.retries;
      auto backoff = std::min<int64_t>(opts.retry_backoff_max_ms,
                                       int64_t{opts.retry_backoff_ms} << (st.attempts - 1));
      self->delayed_send(self, std::chrono::milliseconds(backoff), retry_atom::value);
      return;
    }
    ++counters.failures;
    st.body->abandon(*st.ctx, st, st.last_error, st.attempts);
    st.attempts = 0;
  }
  // Punctuators run; windowed tables move their clocks and close what is due. Both send
  // into this batch's output.
  try {
    punctuate(self);
    for (auto& lease : st.leases)
      lease->end_batch(*st.ctx);
  } catch (const restart_partition& e) {
    fail(self, make_error(errc::partition_failed,
                          std::string{"a punctuator or window-close callback asked for a "
                                      "restart: "}
                            + e.what()));
    return;
  } catch (const store_error& e) {
    store_failed(self, e);
    return;
  }
  if (!st.current->empty())
    st.consumed_next_offset = st.current->next_offset();
  auto held = st.body->held_offset();
  st.last_next_offset = held >= 0 ? held : st.consumed_next_offset;
  auto seq = st.tracker.open(st.last_next_offset);
  if (auto& made = detail::context_access::replies(*st.ctx); !made.empty())
    st.replies.emplace_back(seq, std::move(made));
  detail::context_access::replies(*st.ctx).clear();
  std::vector<const char*> changelogs;
  agent_state::pending_write pw;
  // Exactly-once: one transaction holds outputs and changelog alike. At-least-once: the
  // changelog records wait until the batch's outputs are delivered.
  bool two_phase = !st.env->opts.exactly_once() && !st.spec.shards.empty();
  send_buffer* changelog_out = &st.out;
  if (two_phase) {
    if (st.spare_buffers.empty())
      st.spare_buffers.emplace_back();
    st.staging = std::move(st.spare_buffers.back());
    st.spare_buffers.pop_back();
    st.staging.clear();
    changelog_out = &st.staging;
  }
  for (size_t i = 0; i < st.spec.shards.size(); ++i) {
    auto table = st.spec.shards[i].first;
    st.leases[i]->take_changes(*changelog_out, st.env->topo->changelog_index(table),
                               st.spec.partition);
    if (auto w = st.leases[i]->seal()) {
      pw.writes.resize(st.spec.shards.size());
      pw.writes[i] = std::move(w);
      changelogs.resize(st.spec.shards.size(), nullptr);
      changelogs[i] = st.env->topo->tables[table].changelog.c_str();
    }
  }
  st.produced_batches = seq + 1;
  if (!pw.writes.empty()) {
    pw.seq = seq;
    st.writes.push_back(std::move(pw));
  }
  if (two_phase && !st.staging.empty()) {
    agent_state::changelog_stage stage;
    stage.seq = seq;
    stage.records = std::move(st.staging);
    stage.changelogs = changelogs;
    changelogs.clear();
    st.stages.push_back(std::move(stage));
    st.delivery = new agent_delivery(agent_actor{self}, seq, true, st.spec.partition, {});
  } else {
    if (two_phase)
      st.spare_buffers.push_back(std::move(st.staging));
    st.delivery = new agent_delivery(agent_actor{self}, seq, false, st.spec.partition,
                                     std::move(changelogs));
  }
  st.produce_pos = 0;
  st.dead_letter_pos = 0;
  produce(self);
}

void run(self_ptr self) {
  auto& st = self->state;
  if (st.env->services.faults && !st.current->empty() && inject_failure(self))
    return;
  detail::context_access::set_wall_clock(*st.ctx, wall_clock_ms(*st.env));
  st.out.clear();
  st.dead_letters.clear();
  detail::context_access::begin_batch(*st.ctx, &st.out);
  st.event_pos = 0;
  st.attempts = 0;
  continue_batch(self);
}

void next(self_ptr self) {
  auto& st = self->state;
  if (st.current || st.pending.empty()) {
    check_drained(self);
    return;
  }
  std::tie(st.current, st.current_source) = std::move(st.pending.front());
  st.pending.pop_front();
  st.batch_started = std::chrono::steady_clock::now();
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
          detail::context_access::lend(*st.ctx, st.spec.shards[i].first, store.get());
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

/// Wall-clock punctuators and windowed tables that close on the wall clock: an idle agent
/// runs an empty batch, which runs them; then the next tick is due.
void tick(self_ptr self) {
  auto& st = self->state;
  if (auto period = tick_period(st); period > 0)
    self->delayed_send(self, std::chrono::milliseconds(period), tick_atom::value);
  // Paused (exactly-once): the transaction is being committed; nothing may be produced.
  if (st.current || !st.pending.empty() || st.pause_pending || st.paused || st.draining)
    return;
  run_empty_batch(self);
}

} // namespace

} // namespace mephisto::agent_steps

namespace mephisto {

agent_actor::behavior_type agent(agent_actor::stateful_pointer<agent_state> self, env_ptr env,
                                 agent_spec spec) {
  using namespace agent_steps;
  auto& st = self->state;
  auto& def = env->topo->agents[spec.agent];
  st.topic = static_cast<uint32_t>(def.topic);
  auto& topic_name = env->topo->topics[st.topic].kafka_name;
  st.where = "agent " + def.name + " on " + topic_name + " [" + std::to_string(spec.partition)
             + "]";
  st.body = def.make_body();
  st.ctx = detail::context_access::make(def.name, topic_name, spec.partition,
                                     env->topo->tables.size());
  st.leases.resize(spec.shards.size());
  st.env = std::move(env);
  detail::context_access::set_globals(*st.ctx, &st.env->services.globals);
  self->set_exception_handler([self](std::exception_ptr& ep) -> caf::error {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log().error("{}: unexpected exception: {}", self->state.where, what);
    return make_error(errc::partition_failed, self->state.where + ": " + what);
  });
  st.spec = std::move(spec);
  // Outputs larger than their topic takes are caught when sent (see agent_body.hpp).
  if (auto* prod = st.env->services.producer; prod != nullptr && !prod->record_limits().empty())
    st.out.limit(prod->record_limits().data());
  st.record_latency = st.env->opts.web_listen != "off";
  // Wall-clock punctuators count from the agent's start; stream-time ones from the first
  // event.
  st.punctuators = def.punctuators;
  for (auto& p : def.punctuators)
    st.punctuator_due.push_back(
      p.time == punctuation_time::wall_clock ? next_time(p, wall_clock_ms(*st.env)) : -1);
  if (auto period = tick_period(st); period > 0)
    self->delayed_send(self, std::chrono::milliseconds(period), tick_atom::value);
  return {
    [self](batch_atom, kafka::batch_ptr& batch) {
      auto& st = self->state;
      st.pending.emplace_back(std::move(batch),
                              caf::actor_cast<source_actor>(self->current_sender()));
      next(self);
    },
    [self](produce_atom) {
      // A full producer queue's retry, or the changelog flush's timer (both: harmless).
      self->state.changelog_flush_due = false;
      if (self->state.producing)
        produce(self);
      produce_changelogs(self);
    },
    [self](retry_atom) { continue_batch(self); },
    [self](tick_atom) { tick(self); },
    [self](delivered_atom, uint64_t seq, bool outputs_only, bool ok,
           std::vector<int64_t>& next_offsets) {
      auto& st = self->state;
      if (ok && outputs_only) { // at-least-once: now its changelog records may go
        for (auto& stage : st.stages)
          if (stage.seq == seq)
            stage.outputs_delivered = true;
        schedule_changelogs(self);
        return;
      }
      if (ok) {
        for (auto& w : st.writes) {
          if (w.seq == seq) {
            w.delivered = true;
            w.next_offsets = std::move(next_offsets);
            w.next_offsets.resize(w.writes.size(), -1);
            break;
          }
        }
        apply_writes(self);
      }
      if (!ok) {
        fail(self, make_error(errc::produce_failed,
                              "records of a batch could not be delivered; its offsets stay "
                              "uncommitted"));
        return;
      }
      if (!st.env->opts.exactly_once() && !st.replies.empty())
        send_replies(self, 0, seq); // at-least-once: delivered is confirmed
      if (st.tracker.complete(seq) && st.tracker.committable() >= 0)
        self->send(st.spec.progress_sink, progress_atom::value, st.topic, st.spec.partition,
                   st.spec.slot, st.tracker.committable());
      check_drained(self);
    },
    [self](pause_atom) -> caf::typed_response_promise<caf::ok_atom> {
      // Exactly-once: the source stopped handing out batches; answer once every batch
      // received is produced (its records are then part of the transaction to commit).
      auto& st = self->state;
      st.pause_pending = true;
      st.pause_promise = self->make_response_promise<caf::ok_atom>();
      auto rp = st.pause_promise;
      check_drained(self);
      return rp;
    },
    [self](committed_atom) {
      // Every batch produced before the pause is committed: their durable writes may go
      // to disk. (Batches of the next transaction may have started meanwhile.)
      auto& st = self->state;
      st.paused = false;
      st.committed_batches = st.paused_at;
      if (!st.replies.empty())
        send_replies(self, st.committed_batches, UINT64_MAX);
      apply_writes(self);
      check_drained(self);
    },
    [self](drain_atom) -> caf::typed_response_promise<int64_t> {
      auto& st = self->state;
      st.draining = true;
      st.drain_promise = self->make_response_promise<int64_t>();
      auto rp = st.drain_promise;
      produce_changelogs(self); // those waiting for the flush timer
      check_drained(self);
      return rp;
    },
  };
}

} // namespace mephisto
