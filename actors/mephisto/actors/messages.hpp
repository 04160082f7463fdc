#pragma once

// Every CAF-0.17-specific spelling of Mephisto's messages lives here: the atoms and the
// local-only payload types. A port to a newer CAF touches this header.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include <librdkafka/rdkafka.h>

#include "mephisto/kafka/message_batch.hpp"
#include "mephisto/store.hpp"

namespace mephisto {

// -- atoms ------------------------------------------------------------------------------

using wake_atom = caf::atom_constant<caf::atom("wake")>;           ///< source: queue has data
using batch_atom = caf::atom_constant<caf::atom("batch")>;         ///< source -> agent
using credit_atom = caf::atom_constant<caf::atom("credit")>;       ///< agent -> source
using lease_atom = caf::atom_constant<caf::atom("lease")>;         ///< agent -> shard
using give_back_atom = caf::atom_constant<caf::atom("giveback")>;  ///< agent -> shard
using ready_atom = caf::atom_constant<caf::atom("ready")>;         ///< shard recovered?
using restored_atom = caf::atom_constant<caf::atom("restored")>;   ///< restorer -> shard
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;   ///< copy of a table
using delivered_atom = caf::atom_constant<caf::atom("delivered")>; ///< producer -> agent
using resume_atom = caf::atom_constant<caf::atom("resume")>;       ///< exactly-once: go on after a pause
using produce_atom = caf::atom_constant<caf::atom("produce")>;     ///< agent: retry a full producer queue
using drain_atom = caf::atom_constant<caf::atom("drain")>;         ///< finish in-flight work
using halt_atom = caf::atom_constant<caf::atom("halt")>;           ///< stop reading / stop
using progress_atom = caf::atom_constant<caf::atom("progress")>;   ///< agent -> consumer
using assign_atom = caf::atom_constant<caf::atom("assign")>;       ///< consumer -> manager
using revoke_atom = caf::atom_constant<caf::atom("revoke")>;       ///< consumer -> manager
using close_atom = caf::atom_constant<caf::atom("close")>;         ///< manager -> shard
using commit_atom = caf::atom_constant<caf::atom("commit")>;       ///< timer tick
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;         ///< agent: try again
using pause_atom = caf::atom_constant<caf::atom("pause")>;         ///< exactly-once: stop at a batch boundary
using committed_atom = caf::atom_constant<caf::atom("committed")>; ///< exactly-once: transaction committed
using rewind_atom = caf::atom_constant<caf::atom("rewind")>;       ///< drop uncommitted work, answer when done
using abort_atom = caf::atom_constant<caf::atom("abort")>;         ///< manager -> consumer: a partition failed, abort
using restart_atom = caf::atom_constant<caf::atom("restart")>;     ///< manager timer: a failed partition again
using reopen_atom = caf::atom_constant<caf::atom("reopen")>;       ///< manager -> consumer: its queue again
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;       ///< cluster: one key of a table, routed
using local_lookup_atom = caf::atom_constant<caf::atom("llookup")>; ///< cluster -> manager: a partition held here
using get_key_atom = caf::atom_constant<caf::atom("getkey")>;      ///< manager -> shard: one key
using owned_atom = caf::atom_constant<caf::atom("owned")>;         ///< table partitions held here
using hello_atom = caf::atom_constant<caf::atom("hello")>;         ///< cluster: join
using ping_atom = caf::atom_constant<caf::atom("ping")>;           ///< cluster: heartbeat
using tick_atom = caf::atom_constant<caf::atom("tick")>;           ///< timer
using listen_atom = caf::atom_constant<caf::atom("listen")>;       ///< cluster: own address
using place_atom = caf::atom_constant<caf::atom("place")>;         ///< cluster -> standby: copy these
using keep_atom = caf::atom_constant<caf::atom("keep")>;           ///< shard -> standby: keep this store warm
using take_atom = caf::atom_constant<caf::atom("take")>;           ///< shard -> standby: hand over
using watch_atom = caf::atom_constant<caf::atom("watch")>;         ///< worker -> its actor: watch these
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>; ///< a lifecycle subscriber
using reply_atom = caf::atom_constant<caf::atom("reply")>;         ///< agent -> worker actor -> cluster: route a reply
using answer_atom = caf::atom_constant<caf::atom("answer")>;       ///< cluster -> peer cluster: a reply for one of yours
using asker_atom = caf::atom_constant<caf::atom("asker")>;         ///< an asker registers with its worker

// -- payloads ---------------------------------------------------------------------------

/// A partition queue taken from the group consumer: a handle CAF may carry (CAF inspects
/// the pointee of raw pointers, and `rd_kafka_queue_t` is incomplete).
struct partition_queue {
  rd_kafka_queue_t* queue = nullptr;
};

/// One assigned topic partition and its queue.
struct assigned_partition {
  uint32_t topic = 0;
  int32_t partition = 0;
  partition_queue queue;
};
using assignment = std::vector<assigned_partition>;

/// A topic partition.
struct topic_partition {
  uint32_t topic = 0;
  int32_t partition = 0;
  friend bool operator<(const topic_partition& a, const topic_partition& b) {
    return std::pair{a.topic, a.partition} < std::pair{b.topic, b.partition};
  }
  friend bool operator==(const topic_partition&, const topic_partition&) = default;
};
using topic_partitions = std::vector<topic_partition>;

/// Where a partition ended when it was drained: the offset to commit (-1: nothing).
struct final_offset {
  topic_partition tp;
  int64_t offset = -1;
};
using final_offsets = std::vector<final_offset>;

using store_ptr = std::shared_ptr<store_base>;

/// A table partition's content, encoded.
using table_rows = std::vector<std::pair<std::string, std::string>>;

/// Event counters of one agent partition, as sent to the worker's stats.
struct counters_update {
  uint64_t events = 0;
  uint64_t decode_errors = 0;
  uint64_t failures = 0;
  uint64_t sent = 0;
};

} // namespace mephisto

// Local-only payloads: never serialized (no remote peer sees them).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mephisto::kafka::batch_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mephisto::store_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mephisto::partition_queue)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mephisto::assignment)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mephisto::topic_partitions)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mephisto::final_offset)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mephisto::final_offsets)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mephisto::table_rows)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mephisto::counters_update)
