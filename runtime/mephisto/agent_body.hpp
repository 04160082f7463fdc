#pragma once

#include <exception>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include <librdkafka/rdkafka.h>

#include "mephisto/codec.hpp"
#include "mephisto/context.hpp"

namespace mephisto {

/// Where an agent reports events it had to skip. Implemented by the agent actor, which
/// counts them and logs them (rate-limited) with topic, partition and offset.
class event_reporter {
public:
  virtual ~event_reporter();
  virtual void decode_error(const context& ctx, std::string_view why) = 0;
  virtual void failure(const context& ctx, std::string_view what) = 0;
};

/// The user's function behind a type-erased interface: one virtual call per batch, a
/// typed loop inside. Owned by one agent actor.
class agent_body {
public:
  virtual ~agent_body();

  /// Runs the user function over `batch` in offset order. Never throws: a codec error or
  /// an exception from the user function is reported and the event skipped (its staged
  /// sends rolled back).
  virtual void process(std::span<rd_kafka_message_t* const> batch, context& ctx,
                       event_reporter& report) = 0;
};

/// The typed body for an agent on a `topic<K, V>` running `F`, which takes either
/// `(const V&, context&)` or `(const K&, const V&, context&)`.
template <class K, class V, class F>
class typed_agent_body final : public agent_body {
public:
  explicit typed_agent_body(F fn) : fn_(std::move(fn)) {}

  void process(std::span<rd_kafka_message_t* const> batch, context& ctx,
               event_reporter& report) override {
    auto& counters = ctx.counters();
    for (auto* msg : batch) {
      std::string_view key{static_cast<const char*>(msg->key), msg->key_len};
      ctx.begin_event(msg->offset, key, rd_kafka_message_timestamp(msg, nullptr));
      ++counters.events;
      if (msg->payload == nullptr) {
        ++counters.decode_errors;
        report.decode_error(ctx, "the record has no value (null)");
        continue;
      }
      std::string_view payload{static_cast<const char*>(msg->payload), msg->len};
      if (!codec<V>::decode(payload, value_, why_)) {
        ++counters.decode_errors;
        report.decode_error(ctx, why_);
        continue;
      }
      if constexpr (std::is_invocable_v<F&, const K&, const V&, context&>) {
        if (!codec<K>::decode(key, key_, why_)) {
          ++counters.decode_errors;
          report.decode_error(ctx, "key: " + why_);
          continue;
        }
      }
      auto mark = ctx.output().position();
      try {
        if constexpr (std::is_invocable_v<F&, const K&, const V&, context&>)
          fn_(key_, value_, ctx);
        else
          fn_(value_, ctx);
      } catch (const std::exception& e) {
        undo(ctx, mark);
        report.failure(ctx, e.what());
      } catch (...) {
        undo(ctx, mark);
        report.failure(ctx, "unknown exception");
      }
    }
  }

private:
  /// Drops what the failed event sent and counts the failure.
  static void undo(context& ctx, send_buffer::mark mark) {
    auto& counters = ctx.counters();
    counters.sent -= ctx.output().size() - mark.records;
    ctx.output().rollback(mark);
    ++counters.failures;
  }

  F fn_;
  K key_{};
  V value_{};
  std::string why_;
};

} // namespace mephisto
