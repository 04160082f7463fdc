#include "mephisto/actors/partition_manager.hpp"

#include "mephisto/lifecycle.hpp"

#include <algorithm>
#include <memory>
#include <set>

#include <caf/typed_event_based_actor.hpp>
#include <caf/exit_reason.hpp>

#include "mephisto/actors/ask_all.hpp"
#include "mephisto/actors/partition_supervisor.hpp"
#include "mephisto/actors/table_shard.hpp"
#include "mephisto/error.hpp"
#include "mephisto/log.hpp"

namespace mephisto {

namespace {

using self_ptr = partition_manager_actor::stateful_pointer<partition_manager_state>;

/// Tables used by the agents of `topic`.
std::set<uint32_t> tables_of(const topology& topo, uint32_t topic) {
  std::set<uint32_t> out;
  for (auto a : topo.agents_of(topic))
    for (auto t : topo.agents[a].tables)
      out.insert(static_cast<uint32_t>(t));
  return out;
}

std::vector<partition_supervisor_actor> pipelines_of(const partition_manager_state& st) {
  std::vector<partition_supervisor_actor> out;
  for (auto& [tp, pipeline] : st.pipelines)
    out.push_back(pipeline);
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
  self->send(st.env->report.runner, std::move(ev));
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
      // It stops its children, then quits; nothing waits for its answer.
      self->request(pipeline, caf::infinite, rewind_atom::value)
        .then([](caf::ok_atom) {}, [](caf::error&) {});
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
    st.env->report.stats->restarts.fetch_add(1, std::memory_order_relaxed);
    log().warn("{} [{}]: restarting in {} ms from the last committed offset",
               topo.topics[tp.topic].kafka_name, tp.partition, delay.count());
    self->delayed_send(self, delay, restart_atom::value, tp.topic, tp.partition);
  }
}

} // namespace

partition_manager_actor::behavior_type
partition_manager(partition_manager_actor::stateful_pointer<partition_manager_state> self,
                  env_ptr env, standby_actor standby) {
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
      if (st.pause && st.pause->pending()) // a pause waiting for it would wait forever
        st.pause->deliver(make_error(errc::partition_failed, "a partition failed while pausing"));
      st.pipelines.erase(i);
      release_shards(self, tp.topic, tp.partition, false);
      st.env->report.stats->restarts.fetch_add(1, std::memory_order_relaxed);
      log().warn("a partition failed ({}); aborting the transaction", render(msg.reason));
      self->send(st.consumer, abort_atom::value, st.generation);
      return;
    }
    restart_after_failure(self, tp);
  });
  return {
    [self](assign_atom, assignment& parts) {
      auto& st = self->state;
      st.consumer = caf::actor_cast<group_consumer_actor>(self->current_sender());
      for (auto& ap : parts) {
        start_pipeline(self, {ap.topic, ap.partition}, ap.queue);
        emit(self, lifecycle_event::kind::assigned, {ap.topic, ap.partition});
      }
      st.env->report.stats->assigned.store(static_cast<int64_t>(st.pipelines.size()));
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
      auto rp = self->make_response_promise<final_offsets>();
      std::vector<topic_partition> revoked;
      std::vector<partition_supervisor_actor> pipelines;
      for (auto& tp : tps) {
        st.restarting.erase(tp);
        auto i = st.pipelines.find(tp);
        if (i != st.pipelines.end()) {
          revoked.push_back(tp);
          pipelines.push_back(i->second);
          st.pipelines.erase(i);
        }
      }
      st.env->report.stats->assigned.store(static_cast<int64_t>(st.pipelines.size()));
      auto result = std::make_shared<final_offsets>();
      auto revoked_one = [self, revoked](size_t i, bool drained) {
        release_shards(self, revoked[i].topic, revoked[i].partition, drained);
        emit(self, lifecycle_event::kind::revoked, revoked[i]);
      };
      ask_each(self, pipelines, std::chrono::milliseconds(st.env->opts.drain_timeout_ms),
               on_answers(
                 [result, revoked_one](size_t i, final_offset& fo) {
                   result->push_back(fo);
                   revoked_one(i, true);
                 },
                 [self, revoked, revoked_one](size_t i, caf::error& err) {
                   auto& topo = *self->state.env->topo;
                   log().error("{} [{}] did not drain ({}); its offsets stay uncommitted",
                               topo.topics[revoked[i].topic].kafka_name, revoked[i].partition,
                               render(err));
                   revoked_one(i, false);
                 },
                 [rp, result]() mutable { rp.deliver(std::move(*result)); }),
               drain_atom::value);
      return rp;
    },
    [self](pause_atom) -> caf::result<final_offsets> {
      // Exactly-once: every pipeline stops at a batch boundary; answers their offsets.
      auto& st = self->state;
      if (st.txn_poisoned)
        return make_error(errc::partition_failed,
                          "a partition failed: the open transaction must be aborted");
      // One promise, shared: a partition failing meanwhile ends the pause with an error
      // (exit handler), and then neither a late error nor the last answer may answer again.
      auto rp = std::make_shared<caf::typed_response_promise<final_offsets>>(
        self->make_response_promise<final_offsets>());
      st.pause = rp;
      auto result = std::make_shared<final_offsets>();
      ask_all(self, pipelines_of(st), std::chrono::milliseconds(st.env->opts.drain_timeout_ms),
              on_answers([result](size_t, final_offset& fo) { result->push_back(fo); },
                         [rp](caf::error& err) {
                           if (rp->pending())
                             rp->deliver(std::move(err));
                         },
                         [rp, result] {
                           if (rp->pending())
                             rp->deliver(std::move(*result));
                         }),
              pause_atom::value);
      return *rp;
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
      auto rp = self->make_response_promise<caf::ok_atom, uint64_t>();
      st.txn_poisoned = false; // the consumer aborts the transaction next
      auto generation = ++st.generation;
      std::vector<table_shard_actor> shards;
      for (auto& [key, entry] : st.shards) {
        self->unlink_from(entry.shard);
        shards.push_back(entry.shard);
      }
      st.shards.clear();
      auto pipelines = pipelines_of(st);
      for (auto& pipeline : pipelines) {
        self->unlink_from(pipeline);
        st.dropped.insert(pipeline.address());
      }
      st.pipelines.clear();
      st.env->report.stats->assigned.store(0);
      // Either way a pipeline is gone (one that failed meanwhile quits after its children,
      // so its queue is released too).
      ask_each(self, pipelines, std::chrono::milliseconds(st.env->opts.drain_timeout_ms),
               on_answers([](size_t, caf::ok_atom) {}, [](size_t, caf::error&) {},
                          [self, rp, shards, generation]() mutable {
                            for (auto& shard : shards)
                              self->send(shard, close_atom::value, false);
                            rp.deliver(caf::ok_atom::value, generation);
                          }),
               rewind_atom::value);
      return rp;
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
    [self](local_lookup_atom, uint32_t table, int32_t partition,
           std::string& key) -> caf::result<bool, std::string> {
      auto& st = self->state;
      auto i = st.shards.find({table, partition});
      if (i == st.shards.end())
        return make_error(errc::not_owned, "partition " + std::to_string(partition)
                                             + " of table " + st.env->topo->tables[table].name
                                             + " is not held here");
      return self->delegate(i->second.shard, get_key_atom::value, std::move(key));
    },
    [self](halt_atom) { self->quit(); },
    [self](snapshot_atom, uint32_t table) {
      // Copies of every local partition of `table`, merged.
      auto& st = self->state;
      auto rp = self->make_response_promise<table_rows>();
      std::vector<table_shard_actor> targets;
      for (auto& [key, entry] : st.shards)
        if (key.first == table)
          targets.push_back(entry.shard);
      auto rows = std::make_shared<table_rows>();
      ask_all(self, targets, std::chrono::seconds(30),
              on_answers(
                [rows](size_t, table_rows& part) {
                  rows->insert(rows->end(), part.begin(), part.end());
                },
                [rp](caf::error& err) mutable { rp.deliver(std::move(err)); },
                [rp, rows]() mutable { rp.deliver(std::move(*rows)); }),
              snapshot_atom::value);
      return rp;
    },
  };
}

} // namespace mephisto
