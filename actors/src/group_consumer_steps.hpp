#pragma once

// The group consumer's steps, shared by its files: group_consumer.cpp (the poll loop,
// rebalances, at-least-once commits and restarts) and group_transactions.cpp (the
// exactly-once commit, abort and rewind). All run on the group consumer's own thread.

#include <chrono>
#include <string>

#include <caf/blocking_actor.hpp>

#include <librdkafka/rdkafka.h>

#include "mephisto/actors/group_consumer.hpp"

namespace mephisto::group_steps {

using clock_type = std::chrono::steady_clock;

/// Asks the manager and blocks until it answers (or `timeout` passes): calls `on_answer`
/// or `on_error`.
///
/// CAF 0.17.6's blocking actors do not cancel a request's timeout when the answer comes.
/// The timeout fires later and its message stays in the mailbox for good (every later
/// `receive` skips a response nobody waits for), holding a strong reference to the
/// actor: 128 bytes per request, unbounded over a long run (one pause per exactly-once
/// commit), and a leak at exit. So cancel it once answered.
template <class OnAnswer, class OnError, class... Ts>
void ask_manager(group_consumer_data& d, std::chrono::milliseconds timeout, OnAnswer on_answer,
                 OnError on_error, Ts&&... xs) {
  auto answer = d.self->request(d.manager, timeout, std::forward<Ts>(xs)...);
  answer.receive(std::move(on_answer), std::move(on_error));
  d.self->home_system().clock().cancel_request_timeout(d.self, answer.id());
}

/// One rebalance callback, for `/ready` and the metrics: marks the worker as rebalancing
/// while it lives and times it.
struct rebalance_step {
  group_consumer_data& d;
  clock_type::time_point started = clock_type::now();

  explicit rebalance_step(group_consumer_data& data) : d(data) {
    d.env->report.stats->rebalancing.store(true, std::memory_order_relaxed);
  }

  ~rebalance_step() {
    d.env->report.stats->rebalance_duration.observe(clock_type::now() - started);
    d.env->report.stats->rebalancing.store(false, std::memory_order_relaxed);
  }
};

/// An offset commit ended (answered, or failed at once): its duration goes to the metrics.
void note_commit_done(group_consumer_data& d);

/// Refreshes the consumer lag of every assigned partition (high watermark - processed
/// position) in the stats, and drops the partitions no longer assigned.
void publish_lag(group_consumer_data& d);

/// The partitions of `parts`, for messages.
std::string describe(const rd_kafka_topic_partition_list_t* parts);

/// The index of topic `name` in the topology (-1: not one of its topics).
int64_t topic_index(const topology& topo, const char* name);

/// Takes the partitions' queues and has the manager start their pipelines.
void start_pipelines(group_consumer_data& d, rd_kafka_topic_partition_list_t* parts);

/// Exactly-once: drops every pipeline and shard with their uncommitted state. Nothing
/// produces once it returns true.
bool drop_pipelines(group_consumer_data& d);

/// Exactly-once, after an aborted transaction and `drop_pipelines`: moves the partitions
/// back to their committed offsets and starts them again.
void restart_from_committed(group_consumer_data& d);

/// Exactly-once: a fatal failure (in `d.failure`) stops the manager and the loop.
void stop_on_failure(group_consumer_data& d);

/// Exactly-once: a partition failed: stop what produces, abort, rewind.
void abort_and_rewind(group_consumer_data& d);

/// Exactly-once: pauses every partition at a batch boundary, commits the open transaction
/// with the offsets they reached and lets them go on (`resume`) or stay paused (revoke).
void commit_transaction(group_consumer_data& d, bool resume);

} // namespace mephisto::group_steps
