#pragma once

// The typed interface of every runtime actor, in one place: who sends each message, when,
// and what comes back. The actors refer to each other's handles (a pipeline's agents hold
// its shards and the group consumer; the worker actor is told the manager and the
// cluster), so their interfaces live together rather than in headers that would include
// each other. Each actor's header names its interface here and documents its state.
//
// One meaning per message: an atom means the same thing to every actor that takes it
// (`pause` is always "stop at a batch boundary for an exactly-once commit"), and each
// actor takes it with one signature. Messages an actor sends itself (timers) are part of
// its interface, marked "(from itself)".
//
// The group consumer and the standby replicas are blocking actors on threads of their own:
// CAF 0.17 has no typed blocking actors, so their interfaces type the senders' side; their
// `receive` calls handle exactly these messages.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "mephisto/actors/messages.hpp"
#include "mephisto/lifecycle.hpp"

namespace mephisto {

/// Reads one assigned topic partition's queue and hands batches to its agents.
/// - `wake_atom`: from librdkafka's queue callback (and from itself at start): records
///   may wait; it reads while it has credit.
/// - `(credit_atom, slot)`: from the agent at `slot`: it is done with a batch.
/// - `pause_atom` -> `int64_t`: exactly-once, from the partition supervisor: hand out
///   nothing more; answers the offset after the last record handed out (-1: none).
/// - `resume_atom`: from the partition supervisor: hand out again.
/// - `halt_atom` -> `ok`: from the partition supervisor: stop reading, give the queue back
///   and end (batches already sent stay with the agents, who drain them).
using source_actor = caf::typed_actor<caf::reacts_to<wake_atom>,
                                      caf::reacts_to<credit_atom, int32_t>,
                                      caf::replies_to<pause_atom>::with<int64_t>,
                                      caf::reacts_to<resume_atom>,
                                      caf::replies_to<halt_atom>::with<caf::ok_atom>>;

/// Runs one agent on one partition.
/// - `(batch_atom, batch)`: from the source: the next records, in offset order; the agent
///   gives a credit back to the sender when done with it.
/// - `(delivered_atom, seq, outputs_only, ok, next changelog offsets)`: from librdkafka's
///   delivery report thread: every record of batch `seq` was delivered (`ok`) or one
///   failed; `outputs_only`: the first phase of an at-least-once batch with table changes.
/// - `produce_atom` (from itself, 1 ms after a full producer queue): produce again; at
///   least once, also after the changelog flush delay: produce the waiting changelog records.
/// - `retry_atom` (from itself, after a backoff): run the failed event again.
/// - `pause_atom` -> `ok`: exactly-once, from the partition supervisor once its source
///   paused: answers when every batch received is produced.
/// - `committed_atom`: exactly-once, from the partition supervisor: the batches produced
///   before the last pause are committed (their table writes and replies may go).
/// - `drain_atom` -> `int64_t`: from the partition supervisor, after its source halted:
///   finish, deliver, answer the committable offset and end.
/// - `tick_atom`: from itself every `window_tick_ms` (or from the test driver when its
///   clock moves), for windowed tables that close on the wall clock: when idle, run an
///   empty batch, which moves their clocks and closes what is due.
using agent_actor = caf::typed_actor<
  caf::reacts_to<batch_atom, kafka::batch_ptr>,
  caf::reacts_to<delivered_atom, uint64_t, bool, bool, std::vector<int64_t>>,
  caf::reacts_to<produce_atom>, caf::reacts_to<retry_atom>, caf::reacts_to<tick_atom>,
  caf::replies_to<pause_atom>::with<caf::ok_atom>, caf::reacts_to<committed_atom>,
  caf::replies_to<drain_atom>::with<int64_t>>;

/// Owns one partition of one table.
/// - `(restored_atom, store, records, seconds)` / `(restored_atom, error)`: from its
///   restorer thread: the store is recovered, or cannot be.
/// - `ready_atom` -> `ok`: from a partition supervisor: answers once recovered (or the
///   recovery error).
/// - `lease_atom` -> `store`: from an agent, per batch: the store, lent until given back;
///   waiting agents are served in order.
/// - `(give_back_atom, store)`: from the agent that leased it.
/// - `(get_key_atom, key)` -> `(found, value)`: from the partition manager (routed
///   lookups); `not_ready` while recovering.
/// - `snapshot_atom` -> `table_rows`: from the partition manager: a copy of every row.
/// - `(close_atom, keep_warm)`: from the partition manager: cancel a recovery and end;
///   `keep_warm` (a clean revoke) first hands an at-least-once memory store to the
///   standby actor.
using table_shard_actor = caf::typed_actor<
  caf::reacts_to<restored_atom, store_ptr, uint64_t, double>,
  caf::reacts_to<restored_atom, caf::error>, caf::replies_to<ready_atom>::with<caf::ok_atom>,
  caf::replies_to<lease_atom>::with<store_ptr>, caf::reacts_to<give_back_atom, store_ptr>,
  caf::replies_to<get_key_atom, std::string>::with<bool, std::string>,
  caf::replies_to<snapshot_atom>::with<table_rows>, caf::reacts_to<close_atom, bool>>;

/// Supervises one topic partition's source and agents.
/// - `pause_atom` -> `final_offset`: exactly-once, from the partition manager: stop at a
///   batch boundary; answers where the partition stands (offset -1: nothing handed out).
/// - `(committed_atom, resume)`: from the partition manager: the transaction committed;
///   tells the agents, and hands out batches again when `resume`.
/// - `resume_atom`: from the partition manager: hand out batches again.
/// - `rewind_atom` -> `ok`: exactly-once, from the partition manager after an abort: stop
///   the children (their uncommitted work dies with them); answers once they are gone.
/// - `drain_atom` -> `final_offset`: from the partition manager on revoke: stop reading,
///   let the agents deliver, answer the offset to commit and end.
using partition_supervisor_actor = caf::typed_actor<
  caf::replies_to<pause_atom>::with<final_offset>, caf::reacts_to<committed_atom, bool>,
  caf::reacts_to<resume_atom>, caf::replies_to<rewind_atom>::with<caf::ok_atom>,
  caf::replies_to<drain_atom>::with<final_offset>>;

/// The group consumer's side (a blocking actor on its own thread).
/// - `(progress_atom, topic, partition, slot, offset)`: from an agent: its committable
///   offset of a partition moved.
/// - `(reopen_atom, topic, partition)` -> `partition_queue`: from the partition manager
///   restarting a failed partition: its queue again, rewound to the committed offset
///   (null: no longer assigned).
/// - `(abort_atom, generation)`: exactly-once, from the partition manager: a partition
///   failed; abort the transaction and rewind (stale generations are ignored).
/// - `halt_atom`: from the worker actor: close the consumer (revoking everything) and end.
using group_consumer_actor = caf::typed_actor<
  caf::reacts_to<progress_atom, uint32_t, int32_t, int32_t, int64_t>,
  caf::replies_to<reopen_atom, uint32_t, int32_t>::with<partition_queue>,
  caf::reacts_to<abort_atom, uint64_t>, caf::reacts_to<halt_atom>>;

/// Turns rebalances into pipelines.
/// - `(assign_atom, assignment)` -> `ok`: from the group consumer's rebalance callback:
///   start these partitions (their queues are now the manager's).
/// - `(revoke_atom, partitions)` -> `final_offsets`: from the rebalance callback: drain
///   them; answers the offsets to commit.
/// - `(restart_atom, topic, partition)` (from itself, after a failure's backoff): start a
///   failed partition again.
/// - `pause_atom` -> `final_offsets`, `(committed_atom, resume)`, `resume_atom`,
///   `rewind_atom` -> `(ok, generation)`: exactly-once transaction steps from the group
///   consumer (see `partition_supervisor_actor`).
/// - `owned_atom` -> flat (table, partition) pairs: from the cluster: table partitions
///   held here.
/// - `(local_lookup_atom, table, partition, key)` -> `(found, value)`: from the cluster.
/// - `(snapshot_atom, table)` -> `table_rows`: from the worker: every local row.
/// - `halt_atom`: from the worker actor once the consumer is gone: end.
using partition_manager_actor = caf::typed_actor<
  caf::replies_to<assign_atom, assignment>::with<caf::ok_atom>,
  caf::replies_to<revoke_atom, topic_partitions>::with<final_offsets>,
  caf::reacts_to<restart_atom, uint32_t, int32_t>,
  caf::replies_to<pause_atom>::with<final_offsets>, caf::reacts_to<committed_atom, bool>,
  caf::reacts_to<resume_atom>, caf::replies_to<rewind_atom>::with<caf::ok_atom, uint64_t>,
  caf::replies_to<owned_atom>::with<std::vector<int32_t>>,
  caf::replies_to<local_lookup_atom, uint32_t, int32_t, std::string>::with<bool, std::string>,
  caf::replies_to<snapshot_atom, uint32_t>::with<table_rows>, caf::reacts_to<halt_atom>>;

/// The standby replicas (a blocking actor on its own thread).
/// - `(place_atom, flat pairs)`: from the cluster: keep copies of these table partitions.
/// - `(keep_atom, table, partition, store)`: from a table shard closing on a clean revoke:
///   keep this store warm (the standby thread owns it from now on).
/// - `(take_atom, table, partition)` -> `store`: from a table shard starting: hand over the
///   copy (null: none); the partition is not tailed while that shard lives.
/// - `close_atom`: from the worker: end.
using standby_actor = caf::typed_actor<
  caf::reacts_to<place_atom, std::vector<int32_t>>,
  caf::reacts_to<keep_atom, uint32_t, int32_t, store_ptr>,
  caf::replies_to<take_atom, uint32_t, int32_t>::with<store_ptr>, caf::reacts_to<close_atom>>;

/// The instance's member of its app's cluster (published on `cluster_listen`). Messages
/// from peers carry the app's shared secret and are refused without it.
/// - `(listen_atom, address)`: from the worker once published: its own host:port.
/// - `tick_atom` (from itself, every heartbeat).
/// - `(hello_atom, secret, address, owned)` -> `(owned, known peers)`: from a joining peer.
/// - `(ping_atom, secret, address, owned)`: from a peer, every heartbeat.
/// - `(lookup_atom, secret, table, key, forwarded)` -> `(found, value)`: from the worker, a
///   command line or (`forwarded`) a peer: one key, answered here or by its holder.
/// - `(retry_atom, id)` (from itself): route lookup `id` again.
/// - `(reply_atom, to, id, value)`: from the worker actor: an agent's reply for an asker on
///   instance `to`.
/// - `(answer_atom, secret, id, value)`: from a peer: a reply for an asker here.
using cluster_actor = caf::typed_actor<
  caf::reacts_to<listen_atom, std::string>, caf::reacts_to<tick_atom>,
  caf::replies_to<hello_atom, std::string, std::string, std::vector<int32_t>>::with<
    std::vector<int32_t>, std::vector<std::string>>,
  caf::reacts_to<ping_atom, std::string, std::string, std::vector<int32_t>>,
  caf::replies_to<lookup_atom, std::string, std::string, std::string, bool>::with<bool,
                                                                                 std::string>,
  caf::reacts_to<retry_atom, uint64_t>,
  caf::reacts_to<reply_atom, std::string, std::string, std::string>,
  caf::reacts_to<answer_atom, std::string, std::string, std::string>>;

/// The running worker (`worker::as_actor`).
/// - `(watch_atom, consumer, manager, cluster, token)`: from the worker once started: the
///   actors to watch, and the token naming this instance in replies' `to`.
/// - `halt_atom`: from the worker or the user: stop cleanly.
/// - `lifecycle_event`: from the runtime's actors, forwarded to the subscribers.
/// - `(subscribe_atom, actor)`: a lifecycle subscriber.
/// - `(asker_atom, actor)`: from an agent asker starting.
/// - `(reply_atom, to, id, value)`: from an agent or the cluster: route to the asker here
///   or, through the cluster, to instance `to`.
using worker_actor = caf::typed_actor<
  caf::reacts_to<watch_atom, group_consumer_actor, partition_manager_actor, cluster_actor,
                 std::string>,
  caf::reacts_to<halt_atom>, caf::reacts_to<lifecycle_event>,
  caf::reacts_to<subscribe_atom, caf::actor>, caf::reacts_to<asker_atom, caf::actor>,
  caf::reacts_to<reply_atom, std::string, std::string, std::string>>;

} // namespace mephisto
