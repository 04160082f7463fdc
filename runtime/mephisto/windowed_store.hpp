#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mephisto/context.hpp"
#include "mephisto/store.hpp"
#include "mephisto/window.hpp"

namespace mephisto {

/// What a windowed table does at a window's end, set after the table is declared
/// (`app::on_window_close`) and shared read-only by every store of the table.
template <class K, class V>
struct window_hooks {
  /// Gets each window's final value once it closes; may send through `ctx`.
  std::function<void(const K&, const window&, const V&, context&)> on_close;
  /// Session windows: folds `other` into `into` when an event joins two sessions.
  std::function<void(V& into, const V& other)> merge;
};

/// One partition of a windowed table: rows `(key, window) -> value` and the partition's
/// clock in an ordinary store (memory or RocksDB, `inner`), so that they share the
/// changelog, the recovery and the durable writes of every table; plus, in memory, which
/// windows each key has and when each closes and expires (rebuilt from the rows whenever
/// the store is opened or restored).
///
/// The clock is the highest event time applied to the table, moved event by event (and to
/// the wall clock at the end of a batch, with `close_on_wall_clock`); it is a row of its own, so it survives restarts and, under
/// exactly-once, commits with the outputs of the windows it closed. At the end of each
/// batch (`end_batch`), windows whose `close_at` the clock reached are closed: the close
/// callback gets their value, in the batch's output, and they are deleted, or kept until
/// they expire.
///
/// Owned and lent like any store (see `store_base`): one thread at a time, no locks.
template <class K, class V>
class windowed_store final : public store_base {
public:
  using row_key = detail::window_key<K>;
  using row = detail::window_cell<V>;
  using inner_store = typed_store<row_key, row>;

  windowed_store(std::shared_ptr<inner_store> inner, window_spec spec,
                 std::shared_ptr<const window_hooks<K, V>> hooks, std::string table)
    : inner_(std::move(inner)), spec_(spec), hooks_(std::move(hooks)),
      table_(std::move(table)) {
    clock_key_.clock = true;
  }

  // -- store_base: the rows go to the inner store, the index follows --------------------

  caf::error open(std::string& why) override {
    if (auto err = inner_->open(why))
      return err;
    load_index();
    return caf::none;
  }

  int64_t restored_offset() const override { return inner_->restored_offset(); }

  caf::error discard() override {
    windows_.clear();
    clock_ = written_clock_ = -1;
    stale_ = true;
    return inner_->discard();
  }

  const store_error* failure() const noexcept override { return inner_->failure(); }

  bool restore(std::string_view key, std::optional<std::string_view> value,
               std::string& why) override {
    if (!inner_->restore(key, value, why))
      return false;
    row_key k;
    row r;
    codec<row_key>::decode(key, k, why); // checked by the inner store
    if (k.clock) {
      if (value && codec<row>::decode(*value, r, why))
        written_clock_ = clock_ = std::max(clock_, r.clock);
    } else if (value) {
      insert_sorted(windows_[k.key], k.w);
    } else if (auto it = windows_.find(k.key); it != windows_.end()) {
      std::erase(it->second, k.w);
      if (it->second.empty())
        windows_.erase(it);
    }
    stale_ = true;
    return true;
  }

  caf::error checkpoint(int64_t next_offset, bool force) override {
    return inner_->checkpoint(next_offset, force);
  }

  caf::error restore_done() override { return inner_->restore_done(); }

  void begin_event() override {
    inner_->begin_event();
    journal_.clear();
    clock_before_event_ = clock_;
  }

  void undo_event() override {
    inner_->undo_event();
    clock_ = clock_before_event_;
    for (auto u = journal_.rbegin(); u != journal_.rend(); ++u)
      if (u->added)
        remove_window(u->key, u->w, false);
      else
        add_window(u->key, u->w, false);
    journal_.clear();
  }

  std::unique_ptr<durable_write> seal() override { return inner_->seal(); }

  void take_changes(send_buffer& out, uint32_t changelog, int32_t partition) override {
    inner_->take_changes(out, changelog, partition);
  }

  /// Windows held (open, and closed but not yet expired).
  size_t size() const override {
    size_t n = 0;
    for (auto& [key, ws] : windows_)
      n += ws.size();
    return n;
  }

  /// A lookup by the user's key (encoded with K's codec): every window of it held, oldest
  /// first (detail::append_window_entry). False when it has none.
  bool lookup(std::string_view key, std::string& value, std::string& why) override {
    K k{};
    if (!codec<K>::decode(key, k, why))
      return false;
    auto it = windows_.find(k);
    if (it == windows_.end())
      return false;
    value.clear();
    for (auto& w : it->second)
      if (auto* r = inner_->find(row_key{k, w, false}))
        detail::append_window_entry(value, w, r->value);
    return !value.empty();
  }

  void snapshot(std::vector<std::pair<std::string, std::string>>& out) const override {
    inner_->snapshot(out);
  }

  /// Moves the clock to the wall clock (with `close_on_wall_clock`) and writes it, then
  /// closes and expires what it reached.
  void end_batch(context& ctx) override {
    journal_.clear();
    ensure_queues();
    if (spec_.close_on_wall_clock)
      clock_ = std::max(clock_, ctx.wall_clock_ms());
    if (clock_ > written_clock_) {
      written_clock_ = clock_;
      inner_->at(clock_key_).clock = clock_;
    }
    close_due(ctx);
    expire_due();
    journal_.clear();
  }

  // -- for windowed_view ----------------------------------------------------------------

  const window_spec& spec() const noexcept { return spec_; }

  /// The partition's clock (ms), -1 before any event.
  int64_t clock() const noexcept { return clock_; }

  /// Applies `fn` to `key`'s value in every open window of time `ts` (a session: the one
  /// the event opens or joins, merging sessions it bridges). False when every such window
  /// is closed (a late event; nothing applied). Throws `bad_event` for a negative `ts`.
  template <class F>
  bool update(const K& key, int64_t ts, F&& fn) {
    check_time(ts);
    ensure_queues();
    // Event by event, so that whether an event is late never depends on how the events
    // were batched (a restart batches them differently).
    clock_ = std::max(clock_, ts);
    if (spec_.kind == window_kind::session)
      return update_session(key, ts, fn);
    if (spec_.kind == window_kind::sliding)
      return update_sliding(key, ts, fn);
    bool applied = false;
    for_each_window_of(ts, [&](const window& w) {
      if (spec_.close_at(w) <= clock_)
        return; // closed
      applied = true;
      auto& r = inner_->at(row_key{key, w, false});
      add_window(key, w, true);
      fn(r.value);
    });
    return applied;
  }

  /// Moves the clock to event time `ts` without a value (a join moves the clocks of both
  /// its sides with each record). Throws `bad_event` for a negative `ts`.
  void observe(int64_t ts) {
    check_time(ts);
    ensure_queues();
    clock_ = std::max(clock_, ts);
  }

  /// `key`'s value in the latest window that holds time `ts` (sliding: the one ending at
  /// `ts` if there is one), or null.
  const V* value_at(const K& key, int64_t ts) {
    auto it = windows_.find(key);
    if (it == windows_.end())
      return nullptr;
    if (spec_.kind == window_kind::sliding) // the window of the `size` up to `ts`
      if (auto* r = inner_->find(row_key{key, window{ts - spec_.size, ts}, false}))
        return &r->value;
    for (auto w = it->second.rbegin(); w != it->second.rend(); ++w)
      if (contains(*w, ts))
        if (auto* r = inner_->find(row_key{key, *w, false}))
          return &r->value;
    return nullptr;
  }

  /// `key`'s windows starting in `[from, to]`, oldest first, with their values.
  std::vector<std::pair<window, V>> range(const K& key, int64_t from, int64_t to) {
    std::vector<std::pair<window, V>> out;
    auto it = windows_.find(key);
    if (it == windows_.end())
      return out;
    for (auto& w : it->second)
      if (w.start >= from && w.start <= to)
        if (auto* r = inner_->find(row_key{key, w, false}))
          out.emplace_back(w, r->value);
    return out;
  }

  /// The time a negative or otherwise unusable timestamp is refused with.
  static void check_time(int64_t ts) {
    if (ts < 0)
      throw bad_event("bad-timestamp", "the event has no usable timestamp (" + std::to_string(ts)
                                         + ") for a windowed table");
  }

private:
  struct index_change {
    bool added;
    K key;
    window w;
  };

  bool contains(const window& w, int64_t ts) const noexcept { return spec_.holds(w, ts); }

  /// The tumbling or hopping windows that hold `ts`, oldest first.
  template <class F>
  void for_each_window_of(int64_t ts, F&& fn) const {
    auto latest = ts - ts % spec_.step;
    auto first = latest;
    while (first - spec_.step > ts - spec_.size)
      first -= spec_.step;
    for (auto s = std::max<int64_t>(first, 0); s <= latest; s += spec_.step)
      fn(window{s, s + spec_.size});
  }

  /// A session window's event: joins (or opens) its session, merging sessions it bridges
  /// (windowed_store_kinds.hpp).
  template <class F>
  bool update_session(const K& key, int64_t ts, F& fn);

  /// A sliding window's event (Kafka Streams' semantics, see `detail::plan_sliding`;
  /// windowed_store_kinds.hpp).
  template <class F>
  bool update_sliding(const K& key, int64_t ts, F& fn);

  static void insert_sorted(std::vector<window>& ws, const window& w) {
    auto at = std::lower_bound(ws.begin(), ws.end(), w);
    if (at == ws.end() || *at != w)
      ws.insert(at, w);
  }

  void add_window(const K& key, const window& w, bool journal) {
    auto& ws = windows_[key];
    auto at = std::lower_bound(ws.begin(), ws.end(), w);
    if (at != ws.end() && *at == w)
      return;
    ws.insert(at, w);
    if (!stale_)
      closing_[spec_.close_at(w)].emplace_back(key, w);
    if (journal)
      journal_.push_back({true, key, w});
  }

  void remove_window(const K& key, const window& w, bool journal) {
    auto it = windows_.find(key);
    if (it == windows_.end() || std::erase(it->second, w) == 0)
      return;
    if (it->second.empty())
      windows_.erase(it);
    if (!stale_)
      if (auto q = closing_.find(spec_.close_at(w)); q != closing_.end()) {
        std::erase_if(q->second, [&](auto& kw) { return kw.second == w && kw.first == key; });
        if (q->second.empty())
          closing_.erase(q);
      }
    if (journal)
      journal_.push_back({false, key, w});
  }

  /// Rebuilds when and what closes and expires from the windows held and the clock.
  void ensure_queues() {
    if (!stale_)
      return;
    closing_.clear();
    expiring_.clear();
    for (auto& [key, ws] : windows_)
      for (auto& w : ws) {
        if (spec_.close_at(w) > clock_)
          closing_[spec_.close_at(w)].emplace_back(key, w);
        else
          expiring_[spec_.expire_at(w)].emplace_back(key, w);
      }
    stale_ = false;
  }

  void close_due(context& ctx) {
    while (!closing_.empty() && closing_.begin()->first <= clock_) {
      auto due = std::move(closing_.begin()->second);
      closing_.erase(closing_.begin());
      for (auto& [key, w] : due) {
        row_key k{key, w, false};
        if (auto* r = inner_->find(k)) {
          detail::context_access::window_closed(ctx, spec_.last_instant(w));
          if (hooks_->on_close)
            call_on_close(key, w, r->value, ctx);
        }
        if (spec_.expire_at(w) <= clock_) {
          inner_->erase(k);
          drop_from_index(key, w);
        } else {
          expiring_[spec_.expire_at(w)].emplace_back(key, w);
        }
      }
    }
  }

  void call_on_close(const K& key, const window& w, const V& value, context& ctx) {
    auto mark = detail::context_access::output_mark(ctx);
    try {
      hooks_->on_close(key, w, value, ctx);
    } catch (const restart_partition&) {
      throw;
    } catch (const store_error&) {
      throw;
    } catch (const std::exception& e) {
      detail::context_access::close_failed(ctx, mark);
      detail::log_close_failure(table_, w.start, w.end, e.what());
    }
  }

  void expire_due() {
    while (!expiring_.empty() && expiring_.begin()->first <= clock_) {
      auto due = std::move(expiring_.begin()->second);
      expiring_.erase(expiring_.begin());
      for (auto& [key, w] : due) {
        inner_->erase(row_key{key, w, false});
        drop_from_index(key, w);
      }
    }
  }

  void drop_from_index(const K& key, const window& w) {
    if (auto it = windows_.find(key); it != windows_.end()) {
      std::erase(it->second, w);
      if (it->second.empty())
        windows_.erase(it);
    }
  }

  /// Reads which windows exist, and the clock, from the rows (a reopened durable store).
  void load_index() {
    windows_.clear();
    std::vector<std::pair<std::string, std::string>> rows;
    inner_->snapshot(rows);
    std::string why;
    for (auto& [k, v] : rows) {
      row_key key;
      if (!codec<row_key>::decode(k, key, why))
        continue;
      if (key.clock) {
        row r;
        if (codec<row>::decode(v, r, why))
          written_clock_ = clock_ = std::max(clock_, r.clock);
      } else {
        insert_sorted(windows_[key.key], key.w);
      }
    }
    stale_ = true;
  }

  std::shared_ptr<inner_store> inner_;
  window_spec spec_;
  std::shared_ptr<const window_hooks<K, V>> hooks_;
  std::string table_;
  row_key clock_key_;
  int64_t clock_ = -1;
  int64_t written_clock_ = -1;                       ///< in the clock row
  int64_t clock_before_event_ = -1;                  ///< to undo the event
  std::unordered_map<K, std::vector<window>> windows_; ///< each key's windows, by start
  using due_list = std::vector<std::pair<K, window>>;
  std::map<int64_t, due_list> closing_;              ///< open windows by `close_at`
  std::map<int64_t, due_list> expiring_;             ///< closed windows by `expire_at`
  bool stale_ = true;                                ///< `closing_`/`expiring_` to rebuild
  std::vector<index_change> journal_;                ///< of the current event
};

} // namespace mephisto

#include "mephisto/windowed_store_kinds.hpp"
