#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "mephisto/actors/env.hpp"
#include "mephisto/actors/messages.hpp"
#include "mephisto/actors/protocols.hpp"
#include "mephisto/agent_body.hpp"
#include "mephisto/context.hpp"
#include "mephisto/offset_tracker.hpp"
#include "mephisto/send_buffer.hpp"

namespace mephisto {

/// Where one agent partition runs: which agent, which partition, who to tell.
struct agent_spec {
  uint32_t agent = 0;                       ///< index in the topology
  int32_t partition = 0;
  int32_t slot = 0;                         ///< position among the agents of its topic
  std::vector<std::pair<uint32_t, table_shard_actor>> shards;  ///< (table index, shard)
  group_consumer_actor progress_sink;       ///< takes the committable offsets
};

/// State of the actor that runs one agent on one partition.
///
/// Batches arrive from the partition's source in offset order and are processed one at a
/// time: lease the declared tables' stores from their shards (one request per table per
/// batch), run the user function over every event (sends staged in a reused buffer; an
/// event whose function throws is retried after a backoff timer, never a sleep, and after
/// `retry_attempts` goes to the dead-letter topic, as do undecodable events),
/// stage changelog records for changed keys, produce everything (a full producer queue
/// is retried 1 ms later, never waited for), give the stores back, return a credit to
/// the source. The batch's offsets become committable when all its records are
/// delivered (`offset_tracker`); the new committable offset goes to the group consumer.
///
/// Single-threaded by construction (one actor); the only other thread that touches its
/// data is librdkafka's delivery report, through `delivery_batch` and a message.
struct agent_state : event_reporter {
  static inline const char* name = "mephisto.agent";

  /// Lets go of delivery accounting a dying agent still holds (its guards).
  ~agent_state();

  void decode_error(const context& ctx, const consumed_record& rec,
                    std::string_view why) override;
  void failure(const context& ctx, const consumed_record& rec,
               std::string_view what) override;
  void too_large(const context& ctx, const consumed_record& rec,
                 const send_buffer::oversize& too_large) override;
  void rejected(const context& ctx, const consumed_record& rec, std::string_view kind,
                std::string_view why) override;
  void abandoned(const context& ctx, const consumed_record& rec, std::string_view kind,
                 std::string_view why, int attempts) override;
  bool may_log();
  /// Adds the counters of the batch just finished to the worker's stats: events, errors,
  /// the agent's own event count, the batch's duration and its events' latencies.
  void publish_counters();
  /// Keeps a copy of `rec` with the reason, to go to the dead-letter topic with the batch.
  void add_dead_letter(const consumed_record& rec, std::string_view kind,
                       std::string_view why, int attempts);

  /// An event that could not be processed, with its reason as headers.
  struct dead_letter {
    std::string key;
    std::string value;
    bool has_key = false;
    bool has_value = false;
    std::vector<std::pair<std::string, std::string>> headers;
  };

  /// A batch's writes to durable stores (per lease), applied once the batch is confirmed.
  struct pending_write {
    uint64_t seq = 0;
    std::vector<std::unique_ptr<durable_write>> writes;
    std::vector<int64_t> next_offsets;      ///< of each changelog partition, from delivery
    bool delivered = false;
  };

  /// At-least-once: a batch's changelog records, produced once its outputs are delivered,
  /// together with the other ready stages at the next changelog flush (agent.cpp).
  struct changelog_stage {
    uint64_t seq = 0;
    send_buffer records;
    std::vector<const char*> changelogs;    ///< per lease, for the delivery's offsets
    bool outputs_delivered = false;
    size_t pos = 0;                         ///< next record to produce
    kafka::delivery_batch* delivery = nullptr;
  };

  env_ptr env;
  agent_spec spec;
  std::string where;                        ///< "agent a on topic [p]"
  uint32_t topic = 0;
  std::unique_ptr<agent_body> body;
  std::unique_ptr<context> ctx;
  send_buffer out;
  std::deque<std::pair<kafka::batch_ptr, source_actor>> pending;  ///< (batch, its source)
  kafka::batch_ptr current;
  source_actor current_source;
  std::vector<store_ptr> leases;            ///< per entry of spec.shards
  size_t leases_missing = 0;
  size_t produce_pos = 0;
  size_t event_pos = 0;                     ///< next event of `current` to run
  int attempts = 0;                         ///< failed attempts of the event at event_pos
  std::string last_error;
  std::vector<dead_letter> dead_letters;    ///< of the current batch
  size_t dead_letter_pos = 0;
  kafka::delivery_batch* delivery = nullptr;
  offset_tracker tracker;
  /// The offset committed once the last batch opened is done: one past its last event, or
  /// the first event a batch agent still holds (`agent_body::held_offset`).
  int64_t last_next_offset = -1;
  int64_t consumed_next_offset = -1;        ///< one past the last event received
  int64_t stream_time = -1;                 ///< highest event timestamp seen
  std::vector<int64_t> punctuator_due;      ///< per punctuator; -1: at the first stream time
  std::vector<punctuator> punctuators;      ///< this partition's copies of the agent's
  std::deque<pending_write> writes;         ///< in batch order
  std::deque<changelog_stage> stages;       ///< in batch order
  send_buffer staging;                      ///< changelog records of the current batch
  std::vector<send_buffer> spare_buffers;   ///< reused for `stages`
  bool producing = false;                   ///< `produce` waits for queue space
  bool changelog_flush_due = false;         ///< the changelog flush timer runs
  uint64_t produced_batches = 0;            ///< seq + 1 of the last batch produced
  uint64_t committed_batches = 0;           ///< exactly-once: seqs below this are committed
  uint64_t paused_at = 0;                   ///< produced_batches at the last pause
  bool pause_pending = false;
  bool paused = false;                      ///< answered a pause; not yet committed
  caf::typed_response_promise<caf::ok_atom> pause_promise;
  bool draining = false;
  caf::typed_response_promise<int64_t> drain_promise;
  /// Replies to asking actors, per batch, sent once the batch is confirmed.
  std::deque<std::pair<uint64_t, std::vector<detail::agent_reply>>> replies;
  agent_counters reported;                  ///< counters already added to the stats
  std::chrono::steady_clock::time_point batch_started{};  ///< of `current`
  duration_histogram::tally latencies;      ///< of the current batch's events, reused
  bool record_latency = false;              ///< the web server is on (`web_listen`)
  std::chrono::steady_clock::time_point log_window{};
  int logged_in_window = 0;
  uint64_t suppressed = 0;
};

/// Spawns as `spawn(agent, env, spec)`; its interface is `agent_actor` (protocols.hpp).
agent_actor::behavior_type agent(agent_actor::stateful_pointer<agent_state> self, env_ptr env,
                                 agent_spec spec);

} // namespace mephisto
