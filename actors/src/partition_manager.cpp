#include "mephisto/actors/partition_manager.hpp"

#include "mephisto/lifecycle.hpp"

#include <algorithm>
#include <memory>
#include <set>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>

#include "mephisto/actors/partition_supervisor.hpp"
#include "mephisto/actors/table_shard.hpp"
#include "mephisto/error.hpp"
#include "mephisto/log.hpp"

namespace mephisto {

namespace {

using self_ptr = caf::stateful_actor<partition_manager_state>*;

/// Tables used by the agents of `topic`.
std::set<uint32_t> tables_of(const topology& topo, uint32_t topic) {
  std::set<uint32_t> out;
  for (auto a : topo.agents_of(topic))
    for (auto t : topo.agents[a].tables)
      out.insert(static_cast<uint32_t>(t));
  return out;
}

/// `keep_warm`: a clean revoke (the standby actor may keep the stores warm).
void release_shards(self_ptr self, uint32_t topic, int32_t partition, bool keep_warm) {
  auto& st = self->state;
  for (auto t : tables_of(*st.env->topo, topic)) {
    auto i = st.shards.find({t, partition});
    if (i != st.shards.end() && --i->second.users == 0) {
      self->send(i->second.shard, close_atom::value, keep_warm);
      st.shards.erase(i);
    }
  }
}

/// Tells the worker actor (and so the lifecycle subscribers) what happened to `tp`.
void emit(self_ptr self, lifecycle_event::kind what, topic_partition tp,
          caf::error reason = caf::error{}) {
  auto& st = self->state;
  lifecycle_event ev;
  ev.what = what;
  ev.topic = st.env->topo->topics[tp.topic].kafka_name;
  ev.partition = tp.partition;
  ev.reason = std::move(reason);
  self->send(st.env->lifecycle, std::move(ev));
}

/// Spawns the shards (unless running) and the supervisor of one topic partition.
void start_pipeline(self_ptr self, topic_partition tp, partition_queue queue) {
  auto& st = self->state;
  pipeline_spec spec;
  spec.topic = tp.topic;
  spec.partition = tp.partition;
  spec.queue = queue;
  spec.progress_sink = st.consumer;
  for (auto t : tables_of(*st.env->topo, tp.topic)) {
    auto& entry = st.shards[{t, tp.partition}];
    if (!entry.shard)
      entry.shard = self->spawn<caf::linked>(table_shard, st.env, t, tp.partition, store_ptr{},
                                             st.standby);
    ++entry.users;
    spec.shards.emplace_back(t, entry.shard);
  }
  st.pipelines[tp] = self->spawn<caf::linked>(partition_supervisor, st.env, std::move(spec));
}

/// At-least-once: a partition's pipeline failed. It and every pipeline sharing its table
/// partitions stop, the shards close (their state may hold half a batch), and after a
/// backoff they start again: shards restored from their changelogs, sources from the
/// last committed offset.
void restart_after_failure(self_ptr self, topic_partition failed) {
  auto& st = self->state;
  auto& topo = *st.env->topo;
  auto tables = tables_of(topo, failed.topic);
  std::vector<topic_partition> affected{failed};
  for (auto& [tp, pipeline] : st.pipelines) {
    if (tp.partition != failed.partition || tp == failed)
      continue;
    auto theirs = tables_of(topo, tp.topic);
    bool shares = std::any_of(theirs.begin(), theirs.end(),
                              [&](uint32_t t) { return tables.count(t) > 0; });
    if (shares) {
      affected.push_back(tp);
      self->unlink_from(pipeline);
      st.dropped.insert(pipeline.address());
      self->send(pipeline, rewind_atom::value); // stops its children, then quits
    }
  }
  auto now = std::chrono::steady_clock::now();
  auto& history = st.failures[failed];
  if (now - history.last > std::chrono::minutes(1))
    history.count = 0;
  history.last = now;
  auto delay = std::chrono::milliseconds(std::min<int64_t>(10000, 200LL << std::min(history.count, 6)));
  ++history.count;
  for (auto& tp : affected) {
    st.pipelines.erase(tp);
    release_shards(self, tp.topic, tp.partition, false);
    st.restarting.insert(tp);
    st.env->stats->restarts.fetch_add(1, std::memory_order_relaxed);
    log().warn("{} [{}]: restarting in {} ms from the last committed offset",
               topo.topics[tp.topic].kafka_name, tp.partition, delay.count());
    self->delayed_send(self, delay, restart_atom::value, tp.topic, tp.partition);
  }
}

} // namespace

caf::behavior partition_manager(caf::stateful_actor<partition_manager_state>* self, env_ptr env,
                      caf::actor standby) {
  self->state.env = std::move(env);
  self->state.standby = std::move(standby);
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (!msg.reason || msg.reason == caf::exit_reason::normal)
      return;
    auto& st = self->state;
    if (st.dropped.erase(msg.source) > 0)
      return; // a pipeline being dropped anyway failed before it heard so
    auto i = std::find_if(st.pipelines.begin(), st.pipelines.end(),
                          [&](auto& kv) { return kv.second.address() == msg.source; });
    if (i == st.pipelines.end() || !st.consumer) {
      log().error("a worker actor failed ({}); stopping the worker", render(msg.reason));
      self->quit(msg.reason);
      return;
    }
    auto tp = i->first;
    emit(self, lifecycle_event::kind::failed, tp, msg.reason);
    if (st.env->opts.exactly_once()) {
      // Its records may be in the open transaction: abort it, rewind every partition.
      // Until then no commit may take that transaction (its offsets are gone with it).
      st.txn_poisoned = true;
      if (st.pause) { // a pause waiting for this pipeline would wait forever
        st.pause->finish(make_error(errc::partition_failed, "a partition failed while pausing"));
        st.pause.reset();
      }
      st.pipelines.erase(i);
      release_shards(self, tp.topic, tp.partition, false);
      st.env->stats->restarts.fetch_add(1, std::memory_order_relaxed);
      log().warn("a partition failed ({}); aborting the transaction", render(msg.reason));
      self->send(st.consumer, abort_atom::value, st.generation);
      return;
    }
    restart_after_failure(self, tp);
  });
  return {
    [self](assign_atom, assignment& parts) {
      auto& st = self->state;
      st.consumer = caf::actor_cast<caf::actor>(self->current_sender());
      for (auto& ap : parts) {
        start_pipeline(self, {ap.topic, ap.partition}, ap.queue);
        emit(self, lifecycle_event::kind::assigned, {ap.topic, ap.partition});
      }
      st.env->stats->assigned.store(static_cast<int64_t>(st.pipelines.size()));
      return caf::ok_atom::value;
    },
    [self](restart_atom, uint32_t topic, int32_t partition) {
      auto& st = self->state;
      topic_partition tp{topic, partition};
      if (st.restarting.count(tp) == 0)
        return; // revoked meanwhile
      self->request(st.consumer, std::chrono::seconds(60), reopen_atom::value, topic, partition)
        .then(
          [self, tp](partition_queue& q) {
            auto& st = self->state;
            bool wanted = st.restarting.erase(tp) > 0; // not revoked meanwhile
            if (q.queue == nullptr || !wanted || st.pipelines.count(tp) > 0) {
              if (q.queue != nullptr)
                rd_kafka_queue_destroy(q.queue);
              return; // no longer ours
            }
            start_pipeline(self, tp, q);
          },
          [self](caf::error& err) {
            log().error("cannot restart a partition: {}; stopping the worker", render(err));
            self->quit(err);
          });
    },
    [self](revoke_atom, topic_partitions& tps) {
      auto& st = self->state;
      auto rp = self->make_response_promise();
      auto result = std::make_shared<final_offsets>();
      auto missing = std::make_shared<size_t>(0);
      auto timeout = std::chrono::milliseconds(st.env->opts.drain_timeout_ms);
      std::vector<std::pair<topic_partition, caf::actor>> todo;
      for (auto& tp : tps) {
        st.restarting.erase(tp);
        auto i = st.pipelines.find(tp);
        if (i != st.pipelines.end()) {
          todo.emplace_back(tp, i->second);
          st.pipelines.erase(i);
        }
      }
      st.env->stats->assigned.store(static_cast<int64_t>(st.pipelines.size()));
      if (todo.empty()) {
        rp.deliver(final_offsets{});
        return;
      }
      *missing = todo.size();
      for (auto& [tp, pipeline] : todo) {
        auto done = [self, rp, result, missing, tp = tp](bool drained) mutable {
          release_shards(self, tp.topic, tp.partition, drained);
          emit(self, lifecycle_event::kind::revoked, tp);
          if (--*missing == 0)
            rp.deliver(std::move(*result));
        };
        self->request(pipeline, timeout, drain_atom::value)
          .then(
            [result, done](final_offset& fo) mutable {
              result->push_back(fo);
              done(true);
            },
            [self, done, tp = tp](caf::error& err) mutable {
              auto& topo = *self->state.env->topo;
              log().error("{} [{}] did not drain ({}); its offsets stay uncommitted",
                          topo.topics[tp.topic].kafka_name, tp.partition, render(err));
              done(false);
            });
      }
    },
    [self](pause_atom) {
      // Exactly-once: every pipeline stops at a batch boundary; answers their offsets.
      auto& st = self->state;
      auto rp = self->make_response_promise();
      if (st.txn_poisoned) {
        rp.deliver(make_error(errc::partition_failed,
                              "a partition failed: the open transaction must be aborted"));
        return;
      }
      auto pause = std::make_shared<partition_manager_state::pause_round>();
      pause->rp = std::move(rp);
      pause->missing = st.pipelines.size();
      if (pause->missing == 0) {
        pause->finish(final_offsets{});
        return;
      }
      st.pause = pause; // a partition failing meanwhile ends it with an error
      auto timeout = std::chrono::milliseconds(st.env->opts.drain_timeout_ms);
      for (auto& [tp, pipeline] : st.pipelines)
        self->request(pipeline, timeout, pause_atom::value)
          .then(
            [pause](final_offset& fo) {
              pause->result.push_back(fo);
              if (--pause->missing == 0)
                pause->finish(std::move(pause->result));
            },
            [pause](caf::error& err) { pause->finish(std::move(err)); });
    },
    [self](committed_atom, bool resume) {
      for (auto& [tp, pipeline] : self->state.pipelines)
        self->send(pipeline, committed_atom::value, resume);
    },
    [self](resume_atom) {
      for (auto& [tp, pipeline] : self->state.pipelines)
        self->send(pipeline, resume_atom::value);
    },
    [self](rewind_atom) {
      // Exactly-once, after an aborted transaction: every pipeline and table shard goes
      // (with its uncommitted state); answers once the pipelines are gone. The shards close
      // last: closed first, they fail the agents still using them (a cascade of errors).
      auto& st = self->state;
      auto rp = self->make_response_promise();
      st.txn_poisoned = false; // the consumer aborts the transaction next
      auto generation = ++st.generation;
      auto shards = std::make_shared<std::vector<caf::actor>>();
      for (auto& [key, entry] : st.shards) {
        self->unlink_from(entry.shard);
        shards->push_back(entry.shard);
      }
      st.shards.clear();
      auto pipelines = std::move(st.pipelines);
      st.pipelines.clear();
      st.env->stats->assigned.store(0);
      auto missing = std::make_shared<size_t>(pipelines.size());
      auto gone = [self, rp, missing, shards, generation]() mutable {
        if (*missing > 0 && --*missing > 0)
          return;
        for (auto& shard : *shards)
          self->send(shard, close_atom::value);
        rp.deliver(caf::ok_atom::value, generation);
      };
      if (pipelines.empty()) {
        gone();
        return;
      }
      auto timeout = std::chrono::milliseconds(st.env->opts.drain_timeout_ms);
      for (auto& [tp, pipeline] : pipelines) {
        self->unlink_from(pipeline);
        st.dropped.insert(pipeline.address());
        // Either way it is gone (a pipeline that failed meanwhile quits after its
        // children, so its queue is released too).
        self->request(pipeline, timeout, rewind_atom::value)
          .then([gone](caf::ok_atom) mutable { gone(); },
                [gone](caf::error&) mutable { gone(); });
      }
    },
    [self](owned_atom) {
      // Table partitions held here, flat: table, partition, table, partition, ...
      std::vector<int32_t> out;
      for (auto& [key, entry] : self->state.shards) {
        out.push_back(static_cast<int32_t>(key.first));
        out.push_back(key.second);
      }
      return out;
    },
    [self](local_lookup_atom, uint32_t table, int32_t partition, std::string& key) {
      auto& st = self->state;
      auto rp = self->make_response_promise();
      auto i = st.shards.find({table, partition});
      if (i == st.shards.end()) {
        rp.deliver(make_error(errc::not_owned, "partition " + std::to_string(partition)
                                                 + " of table "
                                                 + st.env->topo->tables[table].name
                                                 + " is not held here"));
        return;
      }
      self->request(i->second.shard, std::chrono::seconds(10), get_key_atom::value,
                    std::move(key))
        .then([rp](bool found, std::string& value) mutable { rp.deliver(found, value); },
              [rp](caf::error& err) mutable { rp.deliver(err); });
    },
    [self](halt_atom) { self->quit(); },
    [self](snapshot_atom, uint32_t table) {
      // Copies of every local partition of `table`, merged.
      auto& st = self->state;
      auto rp = self->make_response_promise();
      auto rows = std::make_shared<table_rows>();
      auto missing = std::make_shared<size_t>(0);
      std::vector<caf::actor> targets;
      for (auto& [key, entry] : st.shards)
        if (key.first == table)
          targets.push_back(entry.shard);
      if (targets.empty()) {
        rp.deliver(table_rows{});
        return;
      }
      *missing = targets.size();
      for (auto& shard : targets) {
        self->request(shard, std::chrono::seconds(30), snapshot_atom::value)
          .then(
            [rp, rows, missing](table_rows& part) mutable {
              rows->insert(rows->end(), part.begin(), part.end());
              if (--*missing == 0)
                rp.deliver(std::move(*rows));
            },
            [rp](caf::error& err) mutable { rp.deliver(err); });
      }
    },
  };
}

} // namespace mephisto
