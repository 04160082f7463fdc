#include "mephisto/actors/agent.hpp"

#include "agent_delivery.hpp"
#include "agent_steps.hpp"

#include <algorithm>

#include <caf/send.hpp>

#include "mephisto/error.hpp"

// The agent's produce path: a batch's outputs and dead letters, and at-least-once the
// changelog records that wait for their outputs' delivery (see agent_state).

namespace mephisto::agent_steps {

namespace {

/// A record of `delivery` was not enqueued: retry a full queue in 1 ms, fail on anything
/// else.
void enqueue_failed(self_ptr self, rd_kafka_resp_err_t err, kafka::delivery_batch* delivery) {
  delivery->add(-1);
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
    self->delayed_send(self, std::chrono::milliseconds(1), produce_atom::value);
  else if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) // outputs are checked before: a
    fail(self, make_error(errc::produce_failed,  // changelog record or a dead letter
                          "cannot produce a table's changelog record or a dead letter: "
                          "larger than the producer's message.max.bytes"));
  else
    fail(self, make_error(errc::produce_failed,
                          std::string{"cannot produce: "} + rd_kafka_err2str(err)));
}

/// Enqueues the records of `out` from `pos` on, counting them in `delivery`; false when
/// one could not be enqueued (`pos` then names it, and a retry or failure is under way).
bool send_records(self_ptr self, const send_buffer& out, size_t& pos,
                  kafka::delivery_batch* delivery) {
  auto* prod = self->state.env->services.output; // null only in tests that produce nothing
  while (pos < out.size()) {
    auto& r = out[pos];
    auto key = out.key(r);
    auto value = out.value(r);
    delivery->add(1);
    auto err = prod->send(r.topic, r.partition, r.has_key ? key.data() : nullptr, key.size(),
                         r.has_value ? value.data() : nullptr, value.size(), r.timestamp,
                         delivery);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      enqueue_failed(self, err, delivery);
      return false;
    }
    ++pos;
  }
  return true;
}

} // namespace

void produce(self_ptr self) {
  auto& st = self->state;
  auto* prod = st.env->services.output;
  st.producing = true;
  if (!send_records(self, st.out, st.produce_pos, st.delivery))
    return;
  auto topic = st.env->topo->dead_letter_index();
  while (st.dead_letter_pos < st.dead_letters.size()) {
    auto& dl = st.dead_letters[st.dead_letter_pos];
    st.delivery->add(1);
    auto err = prod->send_with_headers(topic, dl.has_key ? dl.key.data() : nullptr,
                                      dl.key.size(), dl.has_value ? dl.value.data() : nullptr,
                                      dl.value.size(), dl.headers, st.delivery);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      enqueue_failed(self, err, st.delivery);
      return;
    }
    ++st.dead_letter_pos;
  }
  st.producing = false;
  finish(self);
}

/// At-least-once: produces the staged changelog records of the oldest batches whose
/// outputs are all delivered, in batch order. (Outputs first: a crash can then repeat an
/// output but never skip one, which a changelog ahead of its outputs would do after a
/// restore.)
void produce_changelogs(self_ptr self) {
  auto& st = self->state;
  while (!st.stages.empty() && st.stages.front().outputs_delivered) {
    auto& stage = st.stages.front();
    if (stage.delivery == nullptr)
      stage.delivery = new agent_delivery(agent_actor{self}, stage.seq, false,
                                          st.spec.partition, stage.changelogs);
    auto& out = stage.records;
    if (!send_records(self, out, stage.pos, stage.delivery))
      return;
    stage.delivery->release(); // drop the guard
    out.clear();
    st.spare_buffers.push_back(std::move(out));
    st.stages.pop_front();
  }
}

/// At-least-once: the changelog records of batches whose outputs are delivered wait up to
/// a tenth of the commit interval (at most 100 ms) and then go together: one produce
/// request per changelog partition and flush instead of one per batch. Per batch, they
/// cost a request each, a third of a keyed table pipeline's requests, which, on an
/// idempotent producer's five requests in flight, delayed the outputs behind them. Only
/// the commit waits longer (the batch completes when its changelog records are in).
/// A draining agent writes them at once.
void schedule_changelogs(self_ptr self) {
  auto& st = self->state;
  if (st.stages.empty() || !st.stages.front().outputs_delivered)
    return;
  if (st.draining) {
    produce_changelogs(self);
    return;
  }
  if (st.changelog_flush_due)
    return;
  st.changelog_flush_due = true;
  auto delay = std::clamp(st.env->opts.commit_interval_ms / 10, 1, 100);
  self->delayed_send(self, std::chrono::milliseconds(delay), produce_atom::value);
}

} // namespace mephisto::agent_steps
