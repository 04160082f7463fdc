#include "mephisto/actors/partition_supervisor.hpp"

#include <caf/typed_event_based_actor.hpp>
#include <caf/exit_reason.hpp>

#include "mephisto/actors/agent.hpp"
#include "mephisto/actors/ask_all.hpp"
#include "mephisto/actors/source.hpp"
#include "mephisto/error.hpp"
#include "mephisto/log.hpp"

namespace mephisto {

namespace {

using self_ptr = partition_supervisor_actor::stateful_pointer<partition_supervisor_state>;
using phase = pipeline_phase;

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
    // RocksDB reads on a cache miss and the durable writes are disk I/O: on a thread of
    // the agent's own, they stall only this agent, not the scheduler's threads (measured:
    // the other partitions' p99 went from 24 to 196 ms while one agent read a table from
    // the disk at random on a scheduler thread).
    bool own_thread = st.env->services.rocks != nullptr && st.env->opts.rocksdb_agent_threads
                      && !as.shards.empty();
    st.agents.push_back(own_thread
                          ? self->spawn<caf::linked + caf::detached>(agent, st.env, std::move(as))
                          : self->spawn<caf::linked>(agent, st.env, std::move(as)));
  }
  auto& opts = st.env->opts;
  st.source = self->spawn<caf::linked>(source, st.where, st.queue, st.agents, opts.batch_size,
                                       opts.batches_in_flight);
  st.queue.queue = nullptr; // the source owns it now
  st.phase = phase::running;
  if (!st.counted_running) { // for /ready: this partition is processing
    st.counted_running = true;
    st.env->report.stats->running_pipelines.fetch_add(1, std::memory_order_relaxed);
  }
  log().debug("{} started with {} agents", st.where, st.agents.size());
}

void finish_drain(self_ptr self, int64_t offset) {
  auto& st = self->state;
  st.drain_promise.deliver(final_offset{topic_partition{st.spec.topic, st.spec.partition}, offset});
  self->quit();
}

/// Every agent of a topic saw the same batches; the smallest of their offsets is committed.
void drain_agents(self_ptr self) {
  auto& st = self->state;
  auto smallest = std::make_shared<int64_t>(INT64_MAX);
  ask_all(self, st.agents, std::chrono::milliseconds(st.env->opts.drain_timeout_ms),
          on_answers([smallest](size_t, int64_t offset) { *smallest = std::min(*smallest, offset); },
                     [self](caf::error& err) {
                       log().error("{}: an agent did not drain: {}", self->state.where,
                                   render(err));
                       self->state.drain_promise.deliver(err);
                       self->quit(err);
                     },
                     [self, smallest] {
                       finish_drain(self, *smallest == INT64_MAX ? -1 : *smallest);
                     }),
          drain_atom::value);
}

/// Stops every child (a failed one is gone already: its down message comes at once) and
/// quits with `reason` once all are gone, so that whoever starts this partition again finds
/// its queue released. Who waits for the end (a rewind, a drain) hears of it first.
void stop_children(self_ptr self, caf::error reason) {
  auto& st = self->state;
  st.phase = phase::stopping;
  st.stop_reason = std::move(reason);
  std::vector<caf::actor> children;
  for (auto& a : st.agents)
    children.push_back(caf::actor_cast<caf::actor>(a));
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
  if (st.phase == phase::paused) {
    st.phase = phase::running;
    self->send(st.source, resume_atom::value);
  } else if (st.phase == phase::held) {
    st.phase = phase::recovering;
    if (st.waiting_for_shards == 0)
      start(self);
  }
}

/// Exactly-once: stop at a batch boundary; `rp` gets where the partition stands.
void pause_partition(self_ptr self, caf::typed_response_promise<final_offset> rp) {
  auto& st = self->state;
  topic_partition tp{st.spec.topic, st.spec.partition};
  switch (st.phase) {
    case phase::stopping:
      if (st.stop_reason) {
        rp.deliver(st.stop_reason); // what it produced must not be committed
        return;
      }
      [[fallthrough]];
    case phase::recovering:
    case phase::held:
    case phase::draining:
      if (st.phase == phase::recovering)
        st.phase = phase::held;
      rp.deliver(final_offset{tp, -1}); // nothing handed out since the last commit
      return;
    case phase::running:
    case phase::paused:
      break;
  }
  st.phase = phase::paused;
  auto timeout = std::chrono::milliseconds(st.env->opts.drain_timeout_ms);
  self->request(st.source, timeout, pause_atom::value)
    .then(
      [self, rp, tp, timeout](int64_t offset) mutable {
        ask_all(self, self->state.agents, timeout,
                on_answers([](size_t, caf::ok_atom) {},
                           [rp](caf::error& err) mutable { rp.deliver(err); },
                           [rp, tp, offset]() mutable { rp.deliver(final_offset{tp, offset}); }),
                pause_atom::value);
      },
      [rp](caf::error& err) mutable { rp.deliver(err); });
}

} // namespace

partition_supervisor_actor::behavior_type
partition_supervisor(partition_supervisor_actor::stateful_pointer<partition_supervisor_state> self,
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
    if (msg.source != self->address() && st.phase == phase::stopping)
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
            // Held (exactly-once): not in the middle of a transaction commit.
            if (--st.waiting_for_shards == 0 && st.phase == phase::recovering)
              start(self);
          },
          [self](caf::error& err) {
            auto& st = self->state;
            if (st.phase != phase::recovering && st.phase != phase::held)
              return; // going anyway
            log().error("{}: a table did not recover: {}", st.where, render(err));
            self->quit(err);
          });
    }
  }
  return {
    [self](pause_atom) {
      auto rp = self->make_response_promise<final_offset>();
      pause_partition(self, rp);
      return rp;
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
      auto rp = self->make_response_promise<caf::ok_atom>();
      st.rewind_waiters.push_back(rp);
      if (st.phase != phase::stopping)
        stop_children(self, caf::error{});
      return rp;
    },
    [self](drain_atom) {
      auto& st = self->state;
      st.drain_promise = self->make_response_promise<final_offset>();
      auto rp = st.drain_promise;
      switch (st.phase) {
        case phase::stopping:
          break; // answered once the children are gone
        case phase::recovering:
        case phase::held:
          finish_drain(self, -1); // nothing was read
          break;
        case phase::running:
        case phase::paused:
        case phase::draining: {
          st.phase = phase::draining;
          auto timeout = std::chrono::milliseconds(st.env->opts.drain_timeout_ms);
          self->request(st.source, timeout, halt_atom::value)
            .then([self](caf::ok_atom) { drain_agents(self); },
                  [self](caf::error& err) {
                    log().error("{}: source did not stop: {}", self->state.where,
                                render(err));
                    self->state.drain_promise.deliver(err);
                    self->quit(err);
                  });
        }
      }
      return rp;
    },
  };
}

} // namespace mephisto
