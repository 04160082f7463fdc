#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "mephisto/consumed_record.hpp"
#include "mephisto/send_buffer.hpp"
#include "mephisto/store.hpp"
#include "mephisto/table.hpp"
#include "mephisto/topic.hpp"

namespace mephisto {

template <class K, class V, class F>
class typed_agent_body;
template <class K, class V, class F>
class batch_agent_body;
template <class K, class V>
class windowed_table;
template <class K, class V>
class windowed_view;
template <class K, class V>
class windowed_store;
template <class K, class V>
class global_table;
template <class K, class V>
class global_view;
template <class K, class V>
class global_store;
class global_store_base;

namespace detail {
struct context_access;

/// A reply to an asking actor (see `context::reply`), routed once the batch is confirmed.
struct agent_reply {
  std::string to;    ///< the asker's instance (`mephisto.reply-to`)
  std::string id;    ///< the asker and its request (`mephisto.ask-id`)
  std::string value; ///< encoded
};

/// Reads the reply headers of `rec`; false when it was not asked.
bool reply_route_of(const consumed_record& rec, std::string& to, std::string& id);

/// Logs that the window-close callback of `table` threw for window [start, end].
void log_close_failure(const std::string& table, int64_t start, int64_t end, const char* what);
} // namespace detail

/// Thrown by a user function that cannot go on with this partition for now (say, a
/// connection it needs is gone): no retry, no dead letter; the partition's pipeline
/// stops, its tables are restored from their changelogs and it starts again from its last
/// committed offset after a backoff (at-least-once), or the open transaction is aborted
/// and every partition rewinds to its committed offsets (exactly-once). The same happens
/// when a runtime actor of the partition dies of an unexpected error.
class restart_partition : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Thrown, by the runtime or by user code, for an event that can never be processed (a
/// windowed table refuses an event without a usable timestamp with kind `bad-timestamp`):
/// not retried; the event's sends and table changes are undone and it goes to the
/// dead-letter topic with `kind()` as `mephisto.error.kind` and `what()` as the reason.
class bad_event : public std::runtime_error {
public:
  bad_event(std::string kind, const std::string& why)
    : std::runtime_error(why), kind_(std::move(kind)) {}
  const std::string& kind() const noexcept { return kind_; }

private:
  std::string kind_;
};

/// Counts what happened to the events of one agent partition. Owned by the agent actor.
struct agent_counters {
  uint64_t events = 0;         ///< events handed to the user function
  uint64_t decode_errors = 0;  ///< events skipped because the codec rejected them
  uint64_t failures = 0;       ///< events whose user function threw on every attempt
  uint64_t retries = 0;        ///< attempts repeated after the user function threw
  uint64_t dead_letters = 0;   ///< events sent to the dead-letter topic
  uint64_t sent = 0;           ///< records sent by the user function
  uint64_t late = 0;           ///< events too late for every window of a windowed table
  uint64_t windows_closed = 0; ///< windows closed (their final value final)
};

/// What a user function gets with each event: where the event came from, `send` to
/// topics, and `ctx[table]` for the tables the agent declared.
///
/// Owned by one agent actor and reused for every event; never shared between threads.
/// Sends are staged in the agent's `send_buffer` and produced when the batch is done;
/// table access goes straight to the store the shard lent for this batch.
class context {
public:
  // -- where the current event came from --------------------------------------------

  const std::string& agent_name() const noexcept { return agent_; }

  const std::string& topic_name() const noexcept { return topic_; }

  int32_t partition() const noexcept { return partition_; }

  int64_t offset() const noexcept { return offset_; }

  /// The event's raw key bytes (empty for a null key).
  std::string_view raw_key() const noexcept { return key_; }

  /// Milliseconds since the epoch as stamped by the producer or broker, -1 if unknown.
  int64_t timestamp() const noexcept { return timestamp_; }

  /// The wall clock when the batch started, ms since the epoch (the test driver's clock
  /// under `testing::driver`).
  int64_t wall_clock_ms() const noexcept { return wall_clock_ms_; }

  // -- output -------------------------------------------------------------------------

  /// Sends `value` with key `key` to `to`; the Java-compatible murmur2 partitioner picks
  /// the partition from the key, so equal keys land where Kafka Streams and Java clients
  /// put them.
  template <class K, class V>
  void send(const topic<K, V>& to, const std::type_identity_t<K>& key,
            const std::type_identity_t<V>& value) {
    out_->add<K, V>(to.index(), send_buffer::any_partition, &key, &value);
    ++counters_.sent;
  }

  /// Sends `value` without a key (a random partition).
  template <class K, class V>
  void send(const topic<K, V>& to, const std::type_identity_t<V>& value) {
    out_->add<K, V>(to.index(), send_buffer::any_partition, static_cast<const K*>(nullptr),
                    &value);
    ++counters_.sent;
  }

  /// Sends to an explicit partition.
  template <class K, class V>
  void send_to_partition(const topic<K, V>& to, int32_t partition,
                         const std::type_identity_t<K>& key,
                         const std::type_identity_t<V>& value) {
    out_->add<K, V>(to.index(), partition, &key, &value);
    ++counters_.sent;
  }

  /// Answers the actor that asked this event (`worker::asker`): the reply goes back over
  /// CAF once the batch is confirmed (its records acknowledged; under exactly-once its
  /// transaction committed). An event nobody asked ignores it (returns false).
  template <class R>
  bool reply(const R& value) {
    detail::agent_reply r;
    if (record_ == nullptr || !detail::reply_route_of(*record_, r.to, r.id))
      return false;
    codec<R>::encode(value, r.value);
    replies_.push_back(std::move(r));
    return true;
  }

  // -- tables -------------------------------------------------------------------------

  /// The partition of table `t` that belongs to this event's partition. The agent must
  /// list `t` in `agent_options::tables`; otherwise this throws `std::logic_error`.
  template <class K, class V>
  table_view<K, V> operator[](const table<K, V>& t) {
    auto* s = t.index() < leased_.size() ? leased_[t.index()] : nullptr;
    if (s == nullptr)
      throw_undeclared(t.name());
    return table_view<K, V>{static_cast<typed_store<K, V>*>(s)};
  }

  /// The partition of windowed table `t` that belongs to this event's partition (listed
  /// in `agent_options::tables`, or this throws `std::logic_error`).
  template <class K, class V>
  windowed_view<K, V> operator[](const windowed_table<K, V>& t) {
    auto* s = t.index() < leased_.size() ? leased_[t.index()] : nullptr;
    if (s == nullptr)
      throw_undeclared(t.name());
    return windowed_view<K, V>{static_cast<windowed_store<K, V>*>(s), this};
  }

  /// Global table `t` (`app::global_table`): every key of every partition, read-only. Any
  /// agent may read it, listed in its options or not. (Defined in global_table.hpp.)
  template <class K, class V>
  global_view<K, V> operator[](const mephisto::global_table<K, V>& t) const;

private:
  // -- for the runtime: the agent actor (through detail::context_access) and the typed
  //    agent body --------------------------------------------------------------------

  template <class K, class V, class F>
  friend class typed_agent_body;
  template <class K, class V, class F>
  friend class batch_agent_body;
  friend struct detail::context_access;

  context(std::string agent, std::string topic, int32_t partition, size_t tables)
    : agent_(std::move(agent)), topic_(std::move(topic)), partition_(partition),
      leased_(tables, nullptr) {
  }

  /// Starts a batch that stages its output in `out`.
  void begin_batch(send_buffer* out) noexcept { out_ = out; }

  void begin_event(const consumed_record* rec, int64_t offset, std::string_view key,
                   int64_t timestamp) noexcept {
    record_ = rec;
    offset_ = offset;
    key_ = key;
    timestamp_ = timestamp;
    late_ = false;
    out_->stamp(timestamp);
  }

  void lend(size_t table, store_base* store) noexcept { leased_[table] = store; }

  /// Starts undo journals of the lent stores for the next event.
  void begin_table_event() {
    for (auto* s : leased_)
      if (s != nullptr)
        s->begin_event();
  }

  /// Drops the replies made after the first `n` (the event that made them threw).
  void drop_replies_from(size_t n) { replies_.resize(n); }

  size_t replies_made() const noexcept { return replies_.size(); }

  /// Undoes the current event's table changes (its function threw).
  void undo_table_event() {
    for (auto* s : leased_)
      if (s != nullptr)
        s->undo_event();
  }

  send_buffer& output() noexcept { return *out_; }

  agent_counters& counters() noexcept { return counters_; }

  [[noreturn]] void throw_undeclared(const std::string& table) const;
  [[noreturn]] void throw_unknown_global(const std::string& table) const;

  std::string agent_;
  std::string topic_;
  int32_t partition_;
  int64_t offset_ = -1;
  int64_t timestamp_ = -1;
  int64_t wall_clock_ms_ = 0;
  bool late_ = false;        ///< the current event is late and to be dead-lettered
  std::string_view key_;
  send_buffer* out_ = nullptr;
  std::vector<store_base*> leased_;
  /// The worker's global tables, by index (owned by the worker; outlive the agent).
  const std::vector<std::shared_ptr<global_store_base>>* globals_ = nullptr;
  agent_counters counters_;
  const consumed_record* record_ = nullptr;   ///< the current event
  std::vector<detail::agent_reply> replies_; ///< of the current batch
};

namespace detail {

/// What the agent actor does with a context that user code must not: make one, lend it
/// stores, point it at a batch's send buffer, read its counters.
struct context_access {
  static std::unique_ptr<context> make(std::string agent, std::string topic,
                                       int32_t partition, size_t tables) {
    return std::unique_ptr<context>{
      new context(std::move(agent), std::move(topic), partition, tables)};
  }
  static void begin_batch(context& ctx, send_buffer* out) noexcept { ctx.begin_batch(out); }
  static void lend(context& ctx, size_t table, store_base* store) noexcept {
    ctx.lend(table, store);
  }
  static void set_globals(context& ctx,
                          const std::vector<std::shared_ptr<global_store_base>>* globals) noexcept {
    ctx.globals_ = globals;
  }
  static agent_counters& counters(context& ctx) noexcept { return ctx.counters(); }
  static std::vector<agent_reply>& replies(context& ctx) noexcept { return ctx.replies_; }
  static void set_wall_clock(context& ctx, int64_t ms) noexcept { ctx.wall_clock_ms_ = ms; }
  /// A windowed table found the event late; `dead_letter`: it goes to the dead letters.
  static void late_event(context& ctx, bool dead_letter) noexcept {
    ++ctx.counters_.late;
    ctx.late_ = ctx.late_ || dead_letter;
  }
  /// A window closes at the end of the batch: what its callback sends carries the time
  /// of its last instant.
  static void window_closed(context& ctx, int64_t last_instant) noexcept {
    ++ctx.counters_.windows_closed;
    ctx.timestamp_ = last_instant;
    ctx.out_->stamp(last_instant);
  }
  static send_buffer::mark output_mark(context& ctx) noexcept { return ctx.out_->position(); }
  /// A punctuator of the agent runs at `now` (its sends carry that time): returns where
  /// its sends start, for `undo_call`.
  static send_buffer::mark begin_call(context& ctx, int64_t now) {
    ctx.timestamp_ = now;
    ctx.out_->stamp(now);
    ctx.begin_table_event();
    return ctx.out_->position();
  }
  /// The punctuator threw: drops its sends and undoes its table changes.
  static void undo_call(context& ctx, send_buffer::mark m) {
    ++ctx.counters_.failures;
    ctx.counters_.sent -= ctx.out_->size() - m.records;
    ctx.out_->rollback(m);
    ctx.undo_table_event();
  }
  /// An agent's function threw on an event or a batch: drops what it sent and replied
  /// since `mark` and `replies`, and undoes its table changes.
  static void undo_event(context& ctx, send_buffer::mark mark, size_t replies) {
    ctx.drop_replies_from(replies);
    ctx.counters_.sent -= ctx.out_->size() - mark.records;
    ctx.out_->rollback(mark);
    ctx.undo_table_event();
  }
  /// A window-close callback threw: drops what it sent.
  static void close_failed(context& ctx, send_buffer::mark m) noexcept {
    ++ctx.counters_.failures;
    ctx.counters_.sent -= ctx.out_->size() - m.records;
    ctx.out_->rollback(m);
  }
};

} // namespace detail

} // namespace mephisto
