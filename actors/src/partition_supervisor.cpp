#include "mephisto/actors/partition_supervisor.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>

#include "mephisto/actors/agent.hpp"
#include "mephisto/actors/source.hpp"
#include "mephisto/error.hpp"
#include "mephisto/log.hpp"

namespace mephisto {

namespace {

using self_ptr = caf::stateful_actor<partition_supervisor_state>*;

void start(self_ptr self) {
  auto& st = self->state;
  auto& topo = *st.env->topo;
  auto agent_indexes = topo.agents_of(st.spec.topic);
  for (size_t slot = 0; slot < agent_indexes.size(); ++slot) {
    agent_spec as;
    as.agent = static_cast<uint32_t>(agent_indexes[slot]);
    as.partition = st.spec.partition;
    as.slot = static_cast<int32_t>(slot);
    as.progress_sink = st.spec.progress_sink;
    for (auto table : topo.agents[as.agent].tables)
      for (auto& [t, shard] : st.spec.shards)
        if (t == table)
          as.shards.emplace_back(t, shard);
    st.agents.push_back(self->spawn<caf::linked>(agent, st.env, std::move(as)));
  }
  auto& opts = st.env->opts;
  st.source = self->spawn<caf::linked>(source, st.where, st.queue, st.agents, opts.batch_size,
                                       opts.batches_in_flight);
  st.queue.queue = nullptr; // the source owns it now
  st.started = true;
  log().debug("{} started with {} agents", st.where, st.agents.size());
}

void finish_drain(self_ptr self) {
  auto& st = self->state;
  st.drain_promise.deliver(
    final_offset{topic_partition{st.spec.topic, st.spec.partition}, st.drained_offset});
  self->quit();
}

void drain_agents(self_ptr self) {
  auto& st = self->state;
  st.drains_missing = st.agents.size();
  if (st.drains_missing == 0) {
    finish_drain(self);
    return;
  }
  auto timeout = std::chrono::milliseconds(st.env->opts.drain_timeout_ms);
  bool first = true;
  for (auto& a : st.agents) {
    self->request(a, timeout, drain_atom::value)
      .then(
        [self, first](int64_t offset) {
          auto& st = self->state;
          // Every agent of a topic saw the same batches; commit the smallest.
          if (first || offset < st.drained_offset)
            st.drained_offset = offset;
          if (--st.drains_missing == 0)
            finish_drain(self);
        },
        [self](caf::error& err) {
          auto& st = self->state;
          log().error("{}: an agent did not drain: {}", st.where, render(err));
          st.drain_promise.deliver(err);
          self->quit(err);
        });
    first = false;
  }
}

/// Stops every child (a failed one is gone already: its down message comes at once) and
/// quits with `reason` once all are gone, so that whoever starts this partition again finds
/// its queue released. Who waits for the end (a rewind, a drain) hears of it first.
void stop_children(self_ptr self, caf::error reason) {
  auto& st = self->state;
  st.stopping = true;
  st.stop_reason = std::move(reason);
  std::vector<caf::actor> children = st.agents;
  if (st.source)
    children.push_back(caf::actor_cast<caf::actor>(st.source));
  auto done = [self] {
    auto& st = self->state;
    for (auto& rp : st.rewind_waiters)
      rp.deliver(caf::ok_atom::value);
    st.rewind_waiters.clear();
    if (st.drain_promise.pending())
      st.drain_promise.deliver(st.stop_reason ? st.stop_reason
                                              : make_error(errc::partition_failed,
                                                           "rewound while draining"));
    self->quit(st.stop_reason);
  };
  if (children.empty()) {
    done();
    return;
  }
  auto missing = std::make_shared<size_t>(children.size());
  self->set_down_handler([missing, done](caf::down_msg&) {
    if (--*missing == 0)
      done();
  });
  for (auto& child : children) {
    self->unlink_from(child);
    self->monitor(child);
    self->send_exit(child, caf::exit_reason::user_shutdown);
  }
}

/// Exactly-once: the transaction committed; hand out batches again (or start, if the
/// shards recovered while paused).
void resume_partition(self_ptr self) {
  auto& st = self->state;
  st.paused = false;
  if (st.draining || st.stopping)
    return;
  if (st.started)
    self->send(st.source, resume_atom::value);
  else if (st.waiting_for_shards == 0)
    start(self);
}

} // namespace

caf::behavior partition_supervisor(caf::stateful_actor<partition_supervisor_state>* self,
                                   env_ptr env, pipeline_spec spec) {
  auto& st = self->state;
  st.where = env->topo->topics[spec.topic].kafka_name + " [" + std::to_string(spec.partition)
             + "]";
  st.queue = spec.queue;
  spec.queue.queue = nullptr;
  st.env = std::move(env);
  st.spec = std::move(spec);
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (!msg.reason || msg.reason == caf::exit_reason::normal)
      return;
    auto& st = self->state;
    if (msg.source != self->address() && st.stopping)
      return; // a child we are stopping anyway (its exit may have been sent before)
    log().error("{}: a child failed: {}", st.where, render(msg.reason));
    stop_children(self, msg.reason);
  });
  st.waiting_for_shards = st.spec.shards.size();
  if (st.waiting_for_shards == 0) {
    start(self);
  } else {
    for (auto& [table, shard] : st.spec.shards) {
      self->request(shard, caf::infinite, ready_atom::value)
        .then(
          [self](caf::ok_atom) {
            auto& st = self->state;
            // Exactly-once: not in the middle of a transaction commit.
            if (--st.waiting_for_shards == 0 && !st.draining && !st.paused)
              start(self);
          },
          [self](caf::error& err) {
            if (self->state.draining)
              return;
            log().error("{}: a table did not recover: {}", self->state.where, render(err));
            self->quit(err);
          });
    }
  }
  return {
    [self](pause_atom) {
      // Exactly-once: stop at a batch boundary; answer where the partition stands.
      auto& st = self->state;
      auto rp = self->make_response_promise();
      topic_partition tp{st.spec.topic, st.spec.partition};
      st.paused = true;
      if (st.stopping && st.stop_reason) {
        rp.deliver(st.stop_reason); // what it produced must not be committed
        return;
      }
      if (!st.started || st.draining) {
        rp.deliver(final_offset{tp, -1});
        return;
      }
      auto timeout = std::chrono::milliseconds(st.env->opts.drain_timeout_ms);
      self->request(st.source, timeout, pause_atom::value)
        .then(
          [self, rp, tp, timeout](int64_t offset) mutable {
            auto& st = self->state;
            auto missing = std::make_shared<size_t>(st.agents.size());
            if (*missing == 0) {
              rp.deliver(final_offset{tp, offset});
              return;
            }
            for (auto& a : st.agents)
              self->request(a, timeout, pause_atom::value)
                .then(
                  [rp, tp, offset, missing](caf::ok_atom) mutable {
                    if (--*missing == 0)
                      rp.deliver(final_offset{tp, offset});
                  },
                  [rp](caf::error& err) mutable { rp.deliver(err); });
          },
          [rp](caf::error& err) mutable { rp.deliver(err); });
    },
    [self](committed_atom, bool resume) {
      auto& st = self->state;
      for (auto& a : st.agents)
        self->send(a, committed_atom::value);
      if (resume) // inline: a message to ourselves could arrive after the next pause
        resume_partition(self);
    },
    [self](resume_atom) { resume_partition(self); },
    [self](rewind_atom) {
      // Exactly-once, after an aborted transaction: stop the source and the agents (their
      // uncommitted work dies with them) and answer once they are gone.
      auto& st = self->state;
      st.rewind_waiters.push_back(self->make_response_promise());
      if (!st.stopping) {
        st.draining = true;
        stop_children(self, caf::error{});
      }
    },
    [self](drain_atom) {
      auto& st = self->state;
      st.draining = true;
      st.drain_promise = self->make_response_promise();
      if (st.stopping)
        return; // answered once the children are gone
      if (!st.started) {
        finish_drain(self); // nothing was read
        return;
      }
      auto timeout = std::chrono::milliseconds(st.env->opts.drain_timeout_ms);
      self->request(st.source, timeout, halt_atom::value)
        .then([self](caf::ok_atom) { drain_agents(self); },
              [self](caf::error& err) {
                log().error("{}: source did not stop: {}", self->state.where, render(err));
                self->state.drain_promise.deliver(err);
                self->quit(err);
              });
    },
  };
}

} // namespace mephisto
