#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <vector>

#include "mephisto/agent_body.hpp"
#include "mephisto/codec.hpp"
#include "mephisto/context.hpp"

namespace mephisto {

/// How a batch agent takes its events (Faust's `stream.take(max, within)`): its function
/// runs with `max_events` events, or with fewer once the first of them has waited `within`
/// of the wall clock. Set in `agent_options::take`; only agents whose function takes a span
/// of `taken<K, V>` use it.
struct take_options {
  size_t max_events = 1000;
  std::chrono::milliseconds within{1000};
};

/// One event of a batch agent's batch.
template <class K, class V>
struct taken {
  K key{};
  V value{};
  int64_t offset = -1;
  int64_t timestamp = -1;
};

/// The body of a batch agent on a `topic<K, V>` running `F`, which takes
/// `(std::span<const taken<K, V>>, context&)`. Owned by one agent actor.
///
/// Events are decoded into a buffer that is reused (its keys and values keep their
/// capacity). The agent commits no offset at or after the first buffered event
/// (`held_offset`), so the offsets of a batch are committed only after its function
/// returned and its sends were delivered; buffered events lost in a crash are read again
/// by the next owner. Before a drain (a rebalance, a clean stop) and, under exactly-once,
/// before each transaction commit the agent runs what it holds, however few: a
/// transaction commits the offsets of every event handed out, with what they produced.
///
/// A function that throws has its sends and table changes undone and runs again with the
/// same events after the agent's retry backoff; after the last attempt every event of the
/// batch goes to the dead-letter topic (kind `exception`). A batch that sends a record too
/// large for its topic is dead-lettered at once (kind `record-too-large`).
template <class K, class V, class F>
class batch_agent_body final : public agent_body {
public:
  batch_agent_body(F fn, take_options opts) : fn_(std::move(fn)), opts_(opts) {
    if (opts_.max_events == 0)
      opts_.max_events = 1;
  }

  size_t process(std::span<const consumed_record> batch, context& ctx,
                 event_reporter& report) override {
    auto& counters = ctx.counters();
    size_t i = 0;
    if (retrying_ && !batch.empty() && count_ > 0 && batch[0].offset == events_[count_ - 1].offset) {
      // The batch that filled up at batch[0] failed: run it again, without taking
      // batch[0] twice.
      ++counters.events; // the agent uncounted it for the retry
      if (!flush(ctx, report, &batch[0]))
        return 0;
      i = 1;
    }
    for (; i < batch.size(); ++i) {
      auto& rec = batch[i];
      ctx.begin_event(&rec, rec.offset, rec.key_view(), rec.timestamp);
      ++counters.events;
      if (count_ == events_.size())
        events_.emplace_back();
      auto& ev = events_[count_];
      if (!decode(rec, ev)) {
        ++counters.decode_errors;
        report.decode_error(ctx, rec, why_);
        continue;
      }
      ev.offset = rec.offset;
      ev.timestamp = rec.timestamp;
      if (count_++ == 0)
        first_taken_ms_ = ctx.wall_clock_ms();
      if (count_ >= opts_.max_events && !flush(ctx, report, &rec))
        return i;
    }
    return batch.size();
  }

  bool flush_held(context& ctx, event_reporter& report, bool all) override {
    if (count_ == 0)
      return true;
    if (!all && !retrying_ && ctx.wall_clock_ms() - first_taken_ms_ < opts_.within.count())
      return true;
    auto& last = events_[count_ - 1];
    ctx.begin_event(nullptr, last.offset, {}, last.timestamp);
    return flush(ctx, report, nullptr);
  }

  bool abandon(context& ctx, event_reporter& report, std::string_view why,
               int attempts) override {
    dead_letter_all(ctx, report, "exception", why, attempts);
    return true;
  }

  int64_t held_offset() const noexcept override {
    return count_ > 0 ? events_.front().offset : -1;
  }

  int64_t flush_period_ms() const noexcept override { return opts_.within.count(); }

private:
  bool decode(const consumed_record& rec, taken<K, V>& ev) {
    if (!codec<K>::decode(rec.key_view(), ev.key, why_)) {
      why_ = "key: " + why_;
      return false;
    }
    if constexpr (detail::is_optional<V>::value) {
      if (rec.value == nullptr) {
        ev.value.reset();
        return true;
      }
      if (!ev.value)
        ev.value.emplace();
      return codec<typename V::value_type>::decode({rec.value, rec.value_size}, *ev.value, why_);
    } else {
      if (rec.value == nullptr) {
        why_ = "the record has no value (null)";
        return false;
      }
      return codec<V>::decode({rec.value, rec.value_size}, ev.value, why_);
    }
  }

  /// Runs the function over the buffered events; `trigger` is the event that filled the
  /// batch (null: it waited `within`). False when it threw (reported; the events stay).
  bool flush(context& ctx, event_reporter& report, const consumed_record* trigger) {
    auto mark = ctx.output().position();
    auto replies = ctx.replies_made();
    ctx.begin_table_event();
    try {
      fn_(std::span<const taken<K, V>>{events_.data(), count_}, ctx);
    } catch (const restart_partition&) {
      detail::context_access::undo_event(ctx, mark, replies);
      throw;
    } catch (const store_error&) {
      detail::context_access::undo_event(ctx, mark, replies);
      throw;
    } catch (const std::exception& e) {
      return failed(ctx, report, trigger, mark, replies, e.what());
    } catch (...) {
      return failed(ctx, report, trigger, mark, replies, "unknown exception");
    }
    if (auto* big = ctx.output().oversized_since(mark)) [[unlikely]] {
      auto what = *big;
      detail::context_access::undo_event(ctx, mark, replies);
      dead_letter_all(ctx, report, "record-too-large",
                      "the batch sent a record of " + std::to_string(what.size)
                        + " bytes, more than its topic takes (" + std::to_string(what.limit)
                        + "); its outputs and table changes were dropped",
                      1);
      return true;
    }
    count_ = 0;
    retrying_ = false;
    return true;
  }

  bool failed(context& ctx, event_reporter& report, const consumed_record* trigger,
              send_buffer::mark mark, size_t replies, std::string_view what) {
    detail::context_access::undo_event(ctx, mark, replies);
    retrying_ = true;
    consumed_record where = trigger != nullptr ? *trigger : consumed_record{};
    report.failure(ctx, where, what);
    return false;
  }

  /// Sends every buffered event to the dead-letter topic (re-encoded from the decoded
  /// key and value) and empties the buffer.
  void dead_letter_all(context& ctx, event_reporter& report, std::string_view kind,
                       std::string_view why, int attempts) {
    for (size_t i = 0; i < count_; ++i) {
      auto& ev = events_[i];
      key_bytes_.clear();
      value_bytes_.clear();
      codec<K>::encode(ev.key, key_bytes_);
      consumed_record rec;
      rec.key = key_bytes_.data();
      rec.key_size = key_bytes_.size();
      if constexpr (detail::is_optional<V>::value) {
        if (ev.value)
          codec<typename V::value_type>::encode(*ev.value, value_bytes_);
        rec.value = ev.value ? value_bytes_.data() : nullptr;
      } else {
        codec<V>::encode(ev.value, value_bytes_);
        rec.value = value_bytes_.data();
      }
      rec.value_size = value_bytes_.size();
      rec.partition = ctx.partition();
      rec.offset = ev.offset;
      rec.timestamp = ev.timestamp;
      report.abandoned(ctx, rec, kind, why, attempts);
    }
    count_ = 0;
    retrying_ = false;
  }

  F fn_;
  take_options opts_;
  std::vector<taken<K, V>> events_; ///< the buffer; its first `count_` are taken
  size_t count_ = 0;
  int64_t first_taken_ms_ = 0;      ///< wall clock when the first buffered event came
  bool retrying_ = false;           ///< the last run of the batch threw
  std::string why_;
  std::string key_bytes_, value_bytes_;
};

} // namespace mephisto
