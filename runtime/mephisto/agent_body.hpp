#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "mephisto/codec.hpp"
#include "mephisto/consumed_record.hpp"
#include "mephisto/context.hpp"

namespace mephisto {

/// Where an agent reports events that failed. Implemented by the agent actor, which logs
/// them (rate-limited) with topic, partition and offset, retries failed user functions and
/// sends what cannot be processed to the dead-letter topic.
class event_reporter {
public:
  virtual ~event_reporter();
  /// `rec` cannot be decoded (or has no value): it goes to the dead-letter topic.
  virtual void decode_error(const context& ctx, const consumed_record& rec,
                            std::string_view why) = 0;
  /// The user function threw `what` for `rec`; `process` stops there.
  virtual void failure(const context& ctx, const consumed_record& rec,
                       std::string_view what) = 0;
  /// The user function sent a record for `rec` that its topic cannot take (`too_large`):
  /// what it sent is dropped and `rec` goes to the dead-letter topic; `process` goes on.
  virtual void too_large(const context& ctx, const consumed_record& rec,
                         const send_buffer::oversize& too_large) = 0;
  /// `rec` can never be processed (`bad_event`, or a late event to dead-letter): it goes to
  /// the dead-letter topic with `kind` and `why`; `process` goes on.
  virtual void rejected(const context& ctx, const consumed_record& rec, std::string_view kind,
                        std::string_view why) = 0;
  /// A batch agent gave up `rec` with its batch (`kind`, after `attempts`): it goes to the
  /// dead-letter topic. Not logged per event (the batch's failure was).
  virtual void abandoned(const context& ctx, const consumed_record& rec, std::string_view kind,
                         std::string_view why, int attempts) = 0;
};

/// The user's function behind a type-erased interface: one virtual call per batch, a
/// typed loop inside. Owned by one agent actor.
class agent_body {
public:
  virtual ~agent_body();

  /// Runs the user function over `batch` in offset order. An event the codec rejects is
  /// reported and skipped; when the user function throws, its staged sends are rolled
  /// back, the failure reported, and `process` returns that event's index (so the agent
  /// can retry it); when it sent a record too large for its topic, its sends and table
  /// changes are undone and the event reported (`too_large`). Returns `batch.size()` when
  /// every event went through. Throws only `restart_partition` and `store_error` (after
  /// the same rollback).
  virtual size_t process(std::span<const consumed_record> batch, context& ctx,
                         event_reporter& report) = 0;

  // -- batch agents (batch_body.hpp) hold events between calls; the defaults hold none --

  /// At the end of each batch (also the idle tick's empty one): runs the events held
  /// long enough, or all of them when `all` (before a transaction commit or a drain).
  /// False when the function threw (reported; the agent retries the call after its
  /// backoff, then calls `abandon`).
  virtual bool flush_held(context&, event_reporter&, bool /*all*/) { return true; }

  /// The event at the index `process` returned, or the held events, failed on every
  /// attempt (`why`): dead-letters what the body holds. True when that included the event
  /// at the index (otherwise the agent dead-letters it).
  virtual bool abandon(context&, event_reporter&, std::string_view /*why*/, int /*attempts*/) {
    return false;
  }

  /// The offset of the first event held and not yet run (nothing from it on may be
  /// committed); -1: none.
  virtual int64_t held_offset() const noexcept { return -1; }

  /// How long an event may be held (ms), for the agent's idle tick; 0: never held.
  virtual int64_t flush_period_ms() const noexcept { return 0; }
};

/// The typed body for an agent on a `topic<K, V>` running `F`, which takes either
/// `(const V&, context&)` or `(const K&, const V&, context&)`. With `V = std::optional<T>`
/// (on a `topic<K, T>`), a record with a null value (a tombstone) arrives as `nullopt`.
namespace detail {

/// Whether an agent's value type is `std::optional<T>`: it then receives tombstones (null
/// values) as `std::nullopt` instead of refusing them.
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

} // namespace detail

template <class K, class V, class F>
class typed_agent_body final : public agent_body {
public:
  explicit typed_agent_body(F fn) : fn_(std::move(fn)) {}

  size_t process(std::span<const consumed_record> batch, context& ctx,
                 event_reporter& report) override {
    auto& counters = ctx.counters();
    for (size_t i = 0; i < batch.size(); ++i) {
      auto& rec = batch[i];
      auto key = rec.key_view();
      ctx.begin_event(&rec, rec.offset, key, rec.timestamp);
      ++counters.events;
      if (!decode_value(rec)) {
        ++counters.decode_errors;
        report.decode_error(ctx, rec, why_);
        continue;
      }
      if constexpr (std::is_invocable_v<F&, const K&, const V&, context&>) {
        if (!codec<K>::decode(key, key_, why_)) {
          ++counters.decode_errors;
          report.decode_error(ctx, rec, "key: " + why_);
          continue;
        }
      }
      auto mark = ctx.output().position();
      auto replies = ctx.replies_made();
      ctx.begin_table_event();
      try {
        if constexpr (std::is_invocable_v<F&, const K&, const V&, context&>)
          fn_(key_, value_, ctx);
        else
          fn_(value_, ctx);
      } catch (const restart_partition&) {
        detail::context_access::undo_event(ctx, mark, replies);
        throw; // the agent stops; its supervisor restarts the partition
      } catch (const store_error&) {
        detail::context_access::undo_event(ctx, mark, replies);
        throw; // not the user's failure: the partition restarts with its store rebuilt
      } catch (const bad_event& e) {
        detail::context_access::undo_event(ctx, mark, replies); // never processable: no retry
        report.rejected(ctx, rec, e.kind(), e.what());
        continue;
      } catch (const std::exception& e) {
        detail::context_access::undo_event(ctx, mark, replies);
        report.failure(ctx, rec, e.what());
        return i;
      } catch (...) {
        detail::context_access::undo_event(ctx, mark, replies);
        report.failure(ctx, rec, "unknown exception");
        return i;
      }
      // A record larger than its topic takes would fail its whole batch in Kafka: the
      // event is dead-lettered instead (retrying would only send it again).
      if (auto* big = ctx.output().oversized_since(mark)) [[unlikely]] {
        auto what = *big;
        detail::context_access::undo_event(ctx, mark, replies);
        report.too_large(ctx, rec, what);
      } else if (ctx.late_) [[unlikely]] {
        // Too late for a windowed table: what else the event did stands.
        report.rejected(ctx, rec, "late", "the event is later than its windows' grace period");
      }
    }
    return batch.size();
  }

private:
  /// Decodes the value; a null value is an error, except for a `std::optional` value type
  /// (a tombstone: `std::nullopt`).
  bool decode_value(const consumed_record& rec) {
    if constexpr (detail::is_optional<V>::value) {
      if (rec.value == nullptr) {
        value_.reset();
        return true;
      }
      return codec<typename V::value_type>::decode({rec.value, rec.value_size},
                                                   value_.emplace(), why_);
    } else {
      if (rec.value == nullptr) {
        why_ = "the record has no value (null)";
        return false;
      }
      return codec<V>::decode({rec.value, rec.value_size}, value_, why_);
    }
  }

  F fn_;
  K key_{};
  V value_{};
  std::string why_;
};

} // namespace mephisto
