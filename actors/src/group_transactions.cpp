#include "group_consumer_steps.hpp"

#include "mephisto/error.hpp"
#include "mephisto/log.hpp"

// The group consumer's exactly-once steps: committing the open transaction with the
// offsets the partitions reached, and aborting and rewinding it when a partition failed.

namespace mephisto::group_steps {

/// Exactly-once: drops every pipeline and shard with their uncommitted state. Nothing
/// produces once it returns true.
bool drop_pipelines(group_consumer_data& d) {
  bool ok = false;
  ask_manager(
    d, std::chrono::milliseconds(d.env->opts.drain_timeout_ms + 5000),
    [&](caf::ok_atom, uint64_t generation) {
      ok = true;
      d.generation = generation;
    },
    [&](caf::error& err) { log().error("rewind failed: {}", render(err)); }, rewind_atom::value);
  if (!ok)
    d.failure = make_error(errc::transaction_failed, "cannot rewind after an aborted transaction");
  return ok;
}

/// Exactly-once, after an aborted transaction and `drop_pipelines`: moves the partitions
/// back to their committed offsets and starts them again (the shards recover from their
/// changelogs, read_committed).
void restart_from_committed(group_consumer_data& d) {
  rd_kafka_topic_partition_list_t* parts = nullptr;
  if (rd_kafka_assignment(d.rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    d.failure = make_error(errc::transaction_failed, "cannot read the assignment to rewind");
    return;
  }
  auto err = rd_kafka_committed(d.rk, parts, 30000);
  for (int i = 0; i < parts->cnt && !err; ++i)
    if (parts->elems[i].offset < 0)
      parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING; // as auto.offset.reset
  rd_kafka_error_t* serr = nullptr;
  if (!err)
    serr = rd_kafka_seek_partitions(d.rk, parts, 30000);
  if (err || serr) {
    d.failure = make_error(errc::transaction_failed,
                           std::string{"cannot rewind to the committed offsets: "}
                             + (serr ? rd_kafka_error_string(serr) : rd_kafka_err2str(err)));
    if (serr)
      rd_kafka_error_destroy(serr);
  } else {
    for (auto& [tp, slots] : d.progress)
      slots.assign(slots.size(), -1);
    start_pipelines(d, parts);
    log().info("rewound to the committed offsets: {}", describe(parts));
  }
  rd_kafka_topic_partition_list_destroy(parts);
}

/// Exactly-once: a partition failed; what it produced may be in the open transaction.
/// Stops everything that produces, aborts, rewinds.
/// A fatal transaction error (fenced, cannot abort) ends the worker: the manager stops
/// with it and the consumer loop ends.
void stop_on_failure(group_consumer_data& d) {
  if (!d.failure)
    return;
  log().error("{}", render(d.failure));
  d.self->send_exit(d.manager, d.failure);
  d.stop_requested = true;
}

/// Exactly-once: the producer cannot go on (a fatal error, `why`). When this instance is
/// still a member of its group, that is no takeover by another instance (one with the same
/// instance_id would have fenced the consumer's static membership too; without one the
/// transactional id is unique per process) but, e.g., the transaction coordinator aborting
/// the transaction on its timeout while the broker was unreachable, bumping the producer's
/// epoch. Then drop the pipelines, start a new producer with the same transactional id and
/// rewind to the committed offsets, as after an abort; three times in a row without a
/// commit between them is a takeover after all, and fails the worker (`d.failure`).
void restart_producer(group_consumer_data& d, const std::string& why) {
  char errstr[256];
  if (rd_kafka_fatal_error(d.rk, errstr, sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    d.failure = make_error(errc::fenced, "the transaction cannot go on (" + why
                                           + ") and the consumer is fenced (" + errstr
                                           + "): another instance took over; stopping");
    return;
  }
  if (++d.producer_restarts > 3) {
    d.failure = make_error(errc::fenced, "the transaction cannot go on (" + why
                                           + "), even with a new producer three times: "
                                             "another instance with the same transactional "
                                             "id took over, or the producer keeps failing; "
                                             "stopping");
    return;
  }
  log().warn("transaction: the producer cannot go on ({}); starting a new one with the same "
             "transactional id and rewinding to the committed offsets", why);
  if (!drop_pipelines(d))
    return;
  if (auto err = d.env->services.producer->restart()) {
    d.failure = make_error(errc::fenced, "cannot start a new transactional producer: "
                                           + render(err));
    return;
  }
  d.env->report.stats->aborts.fetch_add(1, std::memory_order_relaxed);
  restart_from_committed(d);
}

void abort_and_rewind(group_consumer_data& d) {
  if (d.failure)
    return;
  std::string why;
  if (drop_pipelines(d)) {
    if (d.env->services.producer->abort_transaction(30000, why)) {
      d.env->report.stats->aborts.fetch_add(1, std::memory_order_relaxed);
      restart_from_committed(d);
    } else {
      restart_producer(d, "cannot abort the transaction: " + why);
    }
  }
  stop_on_failure(d);
}

/// Exactly-once: pauses every partition at a batch boundary, commits the open transaction
/// with the offsets they reached and lets them go on (`resume`) or stay paused (revoke).
/// An aborted transaction rewinds; a fatal error (fenced) stops the worker.
void commit_transaction(group_consumer_data& d, bool resume) {
  if (d.failure || d.manager_down)
    return;
  auto& topo = *d.env->topo;
  final_offsets reached;
  caf::error pause_error;
  ask_manager(
    d, std::chrono::milliseconds(d.env->opts.drain_timeout_ms + 5000),
    [&](final_offsets& fos) { reached = std::move(fos); },
    [&](caf::error& err) { pause_error = std::move(err); }, pause_atom::value);
  if (pause_error) {
    // A partition failed (or died while pausing): its records may be in the open
    // transaction without its offsets. Never commit that: abort, then rewind (or, in a
    // revoke, let the partitions go).
    log().warn("cannot pause the partitions to commit ({}); aborting the transaction",
               render(pause_error));
    if (resume) {
      d.rewind_requested = false;
      abort_and_rewind(d);
    } else if (drop_pipelines(d)) {
      // A revoke: the partitions go; what they produced in this transaction must not stay.
      std::string why;
      if (!d.env->services.producer->abort_transaction(30000, why)) {
        log().warn("transaction: cannot abort ({}); starting a new producer", why);
        if (auto err = d.env->services.producer->restart())
          d.failure = make_error(errc::fenced, "cannot abort the transaction (" + why
                                                 + ") nor start a new producer: "
                                                 + render(err));
      }
      d.env->report.stats->aborts.fetch_add(1, std::memory_order_relaxed);
    }
    stop_on_failure(d);
    return;
  }
  auto list = rd_kafka_topic_partition_list_new(static_cast<int>(reached.size()) + 1);
  for (auto& fo : reached) {
    auto i = d.committed.find(fo.tp);
    if (fo.offset >= 0 && i != d.committed.end() && fo.offset > i->second)
      rd_kafka_topic_partition_list_add(list, topo.topics[fo.tp.topic].kafka_name.c_str(),
                                        fo.tp.partition)
        ->offset = fo.offset;
  }
  // No offset moved: nothing was produced either; the open transaction stays open.
  auto result = kafka::producer::txn_result::committed;
  std::string why;
  if (list->cnt > 0) {
    auto started = clock_type::now();
    result = d.env->services.producer->commit_transaction(list, d.rk, 30000, why);
    d.env->report.stats->commit_duration.observe(clock_type::now() - started);
  }
  switch (result) {
    case kafka::producer::txn_result::committed:
      d.producer_restarts = 0;
      for (int i = 0; i < list->cnt; ++i) {
        auto index = topic_index(topo, list->elems[i].topic);
        d.committed[{static_cast<uint32_t>(index), list->elems[i].partition}]
          = list->elems[i].offset;
      }
      if (list->cnt > 0) {
        d.env->report.stats->last_commit_ns.store(
          clock_type::now().time_since_epoch() / std::chrono::nanoseconds(1));
        d.env->report.stats->commits.fetch_add(1, std::memory_order_relaxed);
      } else {
        d.env->report.stats->idle_commits.fetch_add(1, std::memory_order_relaxed);
      }
      d.self->send(d.manager, committed_atom::value, resume);
      break;
    case kafka::producer::txn_result::aborted:
      log().warn("transaction aborted ({}); rewinding to the committed offsets", why);
      d.env->report.stats->aborts.fetch_add(1, std::memory_order_relaxed);
      if (drop_pipelines(d))
        restart_from_committed(d);
      break;
    case kafka::producer::txn_result::fatal:
      restart_producer(d, why);
      break;
  }
  rd_kafka_topic_partition_list_destroy(list);
  stop_on_failure(d);
}

} // namespace mephisto::group_steps
