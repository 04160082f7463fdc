#pragma once

// How an event enters the windows of a session or sliding windowed table: the two kinds
// whose windows depend on the events themselves (see windowed_store.hpp, which includes
// this at its end).

#include <algorithm>
#include <optional>
#include <vector>

#include "mephisto/sliding_window.hpp"
#include "mephisto/windowed_store.hpp"

namespace mephisto {

/// Joins the open session of `key` that `ts` falls in (within `gap` of it), or opens one;
/// an event within `gap` of two sessions merges them (values folded with `merge`).
template <class K, class V>
template <class F>
bool windowed_store<K, V>::update_session(const K& key, int64_t ts, F& fn) {
  window merged{ts, ts};
  std::vector<window> joined;
  if (auto it = windows_.find(key); it != windows_.end())
    for (auto& w : it->second)
      if (spec_.close_at(w) > clock_ && ts >= w.start - spec_.gap && ts <= w.end + spec_.gap) {
        joined.push_back(w);
        merged.start = std::min(merged.start, w.start);
        merged.end = std::max(merged.end, w.end);
      }
  if (spec_.close_at(merged) <= clock_)
    return false;
  if (joined.size() == 1 && joined[0] == merged) {
    fn(inner_->at(row_key{key, merged, false}).value);
    return true;
  }
  V acc{};
  bool first = true;
  for (auto& w : joined) {
    row_key k{key, w, false};
    if (auto* r = inner_->find(k)) {
      if (first)
        acc = r->value;
      else if (hooks_->merge)
        hooks_->merge(acc, r->value);
      first = false;
    }
    inner_->erase(k);
    remove_window(key, w, true);
  }
  auto& r = inner_->at(row_key{key, merged, false});
  r.value = std::move(acc);
  add_window(key, merged, true);
  fn(r.value);
  return true;
}

/// Kafka Streams' sliding windows (see `detail::plan_sliding`): the open windows holding
/// `ts` take the event; the windows it brings are created, seeded from older ones.
template <class K, class V>
template <class F>
bool windowed_store<K, V>::update_sliding(const K& key, int64_t ts, F& fn) {
  static const std::vector<window> none;
  auto it = windows_.find(key);
  const auto& ws = it != windows_.end() ? it->second : none;
  auto row_of = [&](const window& w) { return inner_->find(row_key{key, w, false}); };
  auto plan = detail::plan_sliding(ws, ts, spec_.size, [&](size_t i) {
    auto* r = row_of(ws[i]);
    return r != nullptr ? r->latest_event : int64_t{-1};
  });
  auto open = [&](const window& w) { return spec_.close_at(w) > clock_; };
  // Seeds are copied before anything changes (a row may move once rows are added).
  auto seed = [&](int index) -> row {
    if (index < 0)
      return row{};
    auto* r = row_of(ws[static_cast<size_t>(index)]);
    return r != nullptr ? *r : row{};
  };
  std::optional<row> left, right;
  if (plan.create_left && open(plan.left))
    left = seed(plan.left_seed);
  if (plan.create_right && open(plan.right))
    right = seed(plan.right_seed);
  bool previous_right = plan.create_previous_right && open(plan.previous_right);
  bool applied = false;
  std::vector<window> holding;
  for (auto& w : ws)
    if (contains(w, ts) && open(w))
      holding.push_back(w);
  for (auto& w : holding) {
    auto& r = inner_->at(row_key{key, w, false});
    fn(r.value);
    r.latest_event = std::max(r.latest_event, ts);
    applied = true;
  }
  auto create = [&](const window& w, row&& r, bool with_event) {
    auto& cell = inner_->at(row_key{key, w, false});
    cell = std::move(r);
    cell.clock = -1;
    if (with_event) {
      fn(cell.value);
      cell.latest_event = std::max(cell.latest_event, ts);
    }
    add_window(key, w, true);
  };
  if (left) {
    create(plan.left, std::move(*left), true);
    applied = true;
  }
  if (previous_right) {
    create(plan.previous_right, row{}, true);
    applied = true;
  }
  if (right)
    create(plan.right, std::move(*right), false);
  return applied;
}

} // namespace mephisto
