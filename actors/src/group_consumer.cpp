#include "mephisto/actors/group_consumer.hpp"

#include "group_consumer_steps.hpp"

#include <chrono>
#include <cstring>

#include <caf/after.hpp>
#include <caf/system_messages.hpp>

#include "mephisto/error.hpp"
#include "mephisto/log.hpp"

namespace mephisto {

namespace group_steps {

int64_t min_progress(const std::vector<int64_t>& xs) {
  int64_t result = -1;
  for (size_t i = 0; i < xs.size(); ++i)
    if (i == 0 || xs[i] < result)
      result = xs[i];
  return result;
}

std::string describe(const rd_kafka_topic_partition_list_t* parts) {
  std::string out;
  for (int i = 0; i < parts->cnt; ++i) {
    if (!out.empty())
      out += ' ';
    out += parts->elems[i].topic;
    out += '[' + std::to_string(parts->elems[i].partition) + ']';
  }
  return out.empty() ? "(none)" : out;
}

int64_t topic_index(const topology& topo, const char* name) {
  for (size_t i = 0; i < topo.topics.size(); ++i)
    if (topo.topics[i].kafka_name == name)
      return static_cast<int64_t>(i);
  return -1;
}

/// Commits what the agents reported beyond the last commit; async unless `sync`.
void commit_progress(group_consumer_data& d, bool sync) {
  auto& topo = *d.env->topo;
  auto list = rd_kafka_topic_partition_list_new(static_cast<int>(d.progress.size()));
  for (auto& [tp, slots] : d.progress) {
    auto offset = min_progress(slots);
    auto& last = d.committed[tp];
    if (offset >= 0 && offset > last) {
      rd_kafka_topic_partition_list_add(list, topo.topics[tp.topic].kafka_name.c_str(),
                                        tp.partition)
        ->offset = offset;
      last = offset;
    }
  }
  if (list->cnt > 0) {
    d.commit_started = clock_type::now(); // timed here when sync, else in the commit callback
    auto err = rd_kafka_commit(d.rk, list, sync ? 0 : 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      log().warn("commit of {} failed: {}", describe(list), rd_kafka_err2str(err));
    else
      d.env->report.stats->commits.fetch_add(1, std::memory_order_relaxed);
    if (sync || err != RD_KAFKA_RESP_ERR_NO_ERROR)
      note_commit_done(d);
  }
  rd_kafka_topic_partition_list_destroy(list);
}

void note_commit_done(group_consumer_data& d) {
  if (d.commit_started == clock_type::time_point{})
    return;
  d.env->report.stats->commit_duration.observe(clock_type::now() - d.commit_started);
  d.commit_started = {};
}

void publish_lag(group_consumer_data& d) {
  auto& topo = *d.env->topo;
  auto& gauges = d.env->report.stats->consumer_lag;
  gauges.retain([&](const std::string& topic, int32_t partition) {
    auto index = topic_index(topo, topic.c_str());
    return index >= 0 && d.progress.count({static_cast<uint32_t>(index), partition}) > 0;
  });
  for (auto& [tp, slots] : d.progress) {
    auto& name = topo.topics[tp.topic].kafka_name;
    int64_t low = -1;
    int64_t high = -1;
    if (rd_kafka_get_watermark_offsets(d.rk, name.c_str(), tp.partition, &low, &high)
          != RD_KAFKA_RESP_ERR_NO_ERROR
        || high < 0)
      continue; // nothing fetched yet
    auto position = std::max(min_progress(slots), d.committed[tp]);
    if (position < 0) { // nothing processed yet: where fetching starts
      auto list = rd_kafka_topic_partition_list_new(1);
      rd_kafka_topic_partition_list_add(list, name.c_str(), tp.partition);
      if (rd_kafka_position(d.rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR)
        position = list->elems[0].offset;
      rd_kafka_topic_partition_list_destroy(list);
      if (position < 0)
        continue;
    }
    gauges.set(name, tp.partition, std::max<int64_t>(0, high - position));
  }
}

void handle_progress(group_consumer_data& d, uint32_t topic, int32_t partition, int32_t slot,
                     int64_t offset) {
  auto i = d.progress.find({topic, partition});
  if (i == d.progress.end() || slot < 0 || static_cast<size_t>(slot) >= i->second.size())
    return; // a partition revoked meanwhile
  auto& cur = i->second[slot];
  if (offset > cur)
    cur = offset;
}

partition_queue restart_partition_queue(group_consumer_data& d, topic_partition tp);

/// Handles every message waiting in the mailbox without blocking.
void drain_mailbox(caf::blocking_actor* self, group_consumer_data& d) {
  for (bool more = true; more;) {
    self->receive(
      [&](progress_atom, uint32_t topic, int32_t partition, int32_t slot, int64_t offset) {
        handle_progress(d, topic, partition, slot, offset);
      },
      [&](halt_atom) { d.stop_requested = true; },
      [&](reopen_atom, uint32_t topic, int32_t partition) {
        return restart_partition_queue(d, {topic, partition});
      },
      [&](abort_atom, uint64_t generation) {
        // Not inside a rebalance. A request older than the last rewind is stale: that
        // rewind already dropped the failed pipelines (a pause refused meanwhile rewinds
        // before the request is read).
        if (generation >= d.generation)
          d.rewind_requested = true;
      },
      [&](caf::down_msg& dm) {
        if (dm.source == d.manager.address()) {
          d.manager_down = true;
          d.stop_requested = true;
        }
      },
      caf::after(std::chrono::seconds(0)) >> [&] { more = false; });
  }
}

/// Takes the partitions' queues and has the manager start their pipelines.
void start_pipelines(group_consumer_data& d, rd_kafka_topic_partition_list_t* parts) {
  auto& topo = *d.env->topo;
  assignment todo;
  for (int i = 0; i < parts->cnt; ++i) {
    auto& e = parts->elems[i];
    auto index = topic_index(topo, e.topic);
    if (index < 0)
      continue;
    auto q = rd_kafka_queue_get_partition(d.rk, e.topic, e.partition);
    rd_kafka_queue_forward(q, nullptr); // the source reads it; nothing reaches the group queue
    todo.push_back({static_cast<uint32_t>(index), e.partition, partition_queue{q}});
    auto n_agents = topo.agents_of(static_cast<size_t>(index)).size();
    topic_partition tp{static_cast<uint32_t>(index), e.partition};
    d.progress[tp].assign(n_agents, -1);
    d.committed[tp] = -1;
  }
  bool ok = false;
  if (!d.manager_down) {
    ask_manager(
      d, std::chrono::seconds(30), [&](caf::ok_atom) { ok = true; },
      [&](caf::error& err) { log().error("assign {} failed: {}", describe(parts), render(err)); },
      assign_atom::value, todo);
  }
  if (!ok) {
    for (auto& ap : todo)
      rd_kafka_queue_destroy(ap.queue.queue);
  }
}

/// Cooperative rebalancing hands out and takes back only the partitions that move.
bool cooperative(rd_kafka_t* rk) {
  return std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
}

void apply_assignment(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* parts, bool add) {
  if (!cooperative(rk)) {
    rd_kafka_assign(rk, add ? parts : nullptr);
    return;
  }
  auto* error = add ? rd_kafka_incremental_assign(rk, parts)
                    : rd_kafka_incremental_unassign(rk, parts);
  if (error != nullptr) {
    log().error("incremental {}: {}", add ? "assign" : "unassign", rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
  }
}

void on_assign(group_consumer_data& d, rd_kafka_topic_partition_list_t* parts) {
  rebalance_step step{d};
  if (parts->cnt > 0)
    start_pipelines(d, parts);
  if (parts->cnt > 0)
    log().info("assigned: {}", describe(parts));
  else
    log().info("rebalanced: nothing new assigned");
  d.env->report.stats->rebalances.fetch_add(1, std::memory_order_relaxed);
  d.env->report.stats->joined.store(true, std::memory_order_relaxed);
  apply_assignment(d.rk, parts, true);
}

/// At-least-once: a failed partition starts again. Moves its fetch position back to what
/// its agents last confirmed (else the committed offset) and hands out a new queue; a null
/// queue when the partition is no longer assigned here.
partition_queue restart_partition_queue(group_consumer_data& d, topic_partition tp) {
  auto i = d.progress.find(tp);
  if (i == d.progress.end() || d.rk == nullptr)
    return {};
  auto& name = d.env->topo->topics[tp.topic].kafka_name;
  auto offset = std::max(min_progress(i->second), d.committed[tp]);
  auto list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, name.c_str(), tp.partition)->offset = offset;
  if (offset < 0) {
    rd_kafka_committed(d.rk, list, 10000);
    if (list->elems[0].offset < 0)
      list->elems[0].offset = RD_KAFKA_OFFSET_BEGINNING; // as auto.offset.reset
  }
  offset = list->elems[0].offset;
  if (auto err = rd_kafka_seek_partitions(d.rk, list, 10000)) {
    log().warn("{} [{}]: seek: {}", name, tp.partition, rd_kafka_error_string(err));
    rd_kafka_error_destroy(err);
  }
  rd_kafka_topic_partition_list_destroy(list);
  i->second.assign(i->second.size(), -1);
  auto q = rd_kafka_queue_get_partition(d.rk, name.c_str(), tp.partition);
  rd_kafka_queue_forward(q, nullptr);
  log().info("{} [{}]: restarted from offset {}", name, tp.partition, offset);
  return partition_queue{q};
}

void on_revoke(group_consumer_data& d, rd_kafka_topic_partition_list_t* parts) {
  if (parts->cnt == 0) // cooperative: nothing of ours moves
    return;
  rebalance_step step{d};
  auto& topo = *d.env->topo;
  topic_partitions tps;
  for (int i = 0; i < parts->cnt; ++i) {
    auto index = topic_index(topo, parts->elems[i].topic);
    if (index >= 0)
      tps.push_back({static_cast<uint32_t>(index), parts->elems[i].partition});
  }
  bool exactly_once = d.env->opts.exactly_once();
  if (exactly_once) // the revoked partitions' last work commits before they go
    commit_transaction(d, false);
  if (!d.manager_down && !tps.empty()) {
    auto timeout = std::chrono::milliseconds(d.env->opts.drain_timeout_ms + 5000);
    ask_manager(
      d, timeout,
      [&](final_offsets& fos) {
        for (auto& fo : fos) {
          auto i = d.progress.find(fo.tp);
          if (i != d.progress.end() && fo.offset >= 0)
            for (auto& slot : i->second)
              slot = std::max(slot, fo.offset);
        }
      },
      [&](caf::error& err) {
        log().error("revoke {}: drain failed ({}); committing only what was confirmed",
                    describe(parts), render(err));
      },
      revoke_atom::value, tps);
  }
  // Progress messages sent before the drain answered are already in the mailbox.
  drain_mailbox(d.self, d);
  if (!exactly_once)
    commit_progress(d, true);
  for (auto& tp : tps) {
    d.progress.erase(tp);
    d.committed.erase(tp);
  }
  if (exactly_once && !d.manager_down)
    d.self->send(d.manager, resume_atom::value); // the partitions that stay
  log().info("revoked: {}", describe(parts));
  apply_assignment(d.rk, parts, false);
  publish_lag(d);
}

} // namespace group_steps

using namespace group_steps;

void group_rebalance_cb(rd_kafka_t*, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t* parts, void* opaque) {
  auto& d = *static_cast<group_consumer_data*>(opaque);
  switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
      on_assign(d, parts);
      break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
      on_revoke(d, parts);
      break;
    default:
      log().error("rebalance error: {}", rd_kafka_err2str(err));
      apply_assignment(d.rk, parts, false);
  }
}

void group_commit_cb(rd_kafka_t*, rd_kafka_resp_err_t err,
                     rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  note_commit_done(*static_cast<group_consumer_data*>(opaque));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
    log().warn("offset commit failed: {} ({})", rd_kafka_err2str(err), describe(offsets));
}

void group_consumer(caf::blocking_actor* self, std::shared_ptr<group_consumer_data> data) {
  auto& d = *data;
  d.self = self;
  self->monitor(d.manager);
  auto& topo = *d.env->topo;
  auto subscription = rd_kafka_topic_partition_list_new(1);
  for (auto t : topo.source_topics())
    rd_kafka_topic_partition_list_add(subscription, topo.topics[t].kafka_name.c_str(),
                                      RD_KAFKA_PARTITION_UA);
  auto err = rd_kafka_subscribe(d.rk, subscription);
  rd_kafka_topic_partition_list_destroy(subscription);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    log().error("subscribe failed: {}", rd_kafka_err2str(err));
  auto interval = std::chrono::milliseconds(d.env->opts.commit_interval_ms);
  auto next_commit = clock_type::now() + interval;
  auto next_lag = clock_type::now();
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    d.stop_requested = true;
  while (!d.stop_requested) {
    drain_mailbox(self, d);
    if (d.rewind_requested) {
      d.rewind_requested = false;
      abort_and_rewind(d);
    }
    if (d.stop_requested)
      break;
    if (auto msg = rd_kafka_consumer_poll(d.rk, 50)) {
      if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR && msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        log().warn("consumer: {}", rd_kafka_message_errstr(msg));
      rd_kafka_message_destroy(msg);
    }
    if (clock_type::now() >= next_commit) {
      if (d.env->opts.exactly_once())
        commit_transaction(d, true);
      else
        commit_progress(d, false);
      next_commit = clock_type::now() + interval;
    }
    if (clock_type::now() >= next_lag) {
      publish_lag(d);
      next_lag = clock_type::now() + std::chrono::seconds(1);
    }
  }
  // Closing revokes every partition through the callback: drain, final commit.
  rd_kafka_consumer_close(d.rk);
  rd_kafka_destroy(d.rk);
  d.rk = nullptr;
  d.self = nullptr;
}

} // namespace mephisto
