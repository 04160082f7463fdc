#pragma once

#include <chrono>
#include <utility>
#include <vector>

#include "mephisto/context.hpp"
#include "mephisto/windowed_store.hpp"

namespace mephisto {

/// What an agent sees of one windowed table partition during a batch (`ctx[table]`).
template <class K, class V>
class windowed_view {
public:
  windowed_view(windowed_store<K, V>* store, context* ctx) : store_(store), ctx_(ctx) {}

  /// Applies `fn(V&)` to `key`'s value in every open window of the current event's time
  /// (tumbling: one; hopping: `size / step`; session: the session it opens or joins;
  /// sliding: those holding it, and the windows it opens, see `sliding`). A
  /// late event (every such window closed) changes nothing and is counted (and
  /// dead-lettered with `dead_letter_late`). Returns false when late.
  template <class F>
  bool update(const K& key, F&& fn) {
    return update_at(key, ctx_->timestamp(), std::forward<F>(fn));
  }

  /// As `update`, at event time `ts` (e.g. a time the event carries in its value).
  template <class F>
  bool update_at(const K& key, int64_t ts, F&& fn) {
    if (store_->update(key, ts, fn))
      return true;
    detail::context_access::late_event(*ctx_, store_->spec().dead_letter_late);
    return false;
  }

  /// `key`'s value in the (latest) window of the current event's time, or null (Faust's
  /// `.current()`). Sliding windows: the window ending at the event, `[ts - size, ts]`.
  const V* current(const K& key) { return store_->value_at(key, ctx_->timestamp()); }

  /// `key`'s value in the window of the wall clock now, or null (Faust's `.now()`).
  const V* now(const K& key) { return store_->value_at(key, ctx_->wall_clock_ms()); }

  /// `key`'s value in the window `by` before the current event's time (Faust's `.delta()`).
  const V* delta(const K& key, std::chrono::milliseconds by) {
    return store_->value_at(key, ctx_->timestamp() - by.count());
  }

  /// `key`'s windows that start in `[from, to]` (ms), oldest first, with their values.
  std::vector<std::pair<window, V>> range(const K& key, int64_t from, int64_t to) {
    return store_->range(key, from, to);
  }

  /// Moves the clock to `ts` (ms) as an event of that time would, changing no window.
  void observe(int64_t ts) { store_->observe(ts); }

  /// The partition's clock: the highest event time seen (ms), -1 before any.
  int64_t clock() const noexcept { return store_->clock(); }

private:
  windowed_store<K, V>* store_;
  context* ctx_;
};

} // namespace mephisto
