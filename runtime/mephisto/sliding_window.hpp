#pragma once

#include <cstdint>
#include <vector>

#include "mephisto/window.hpp"

namespace mephisto::detail {

/// What one event at time `ts` does to a key's sliding windows of `size` (Kafka Streams'
/// `SlidingWindows`: `[start, start + size]`, both ends included; a window exists for
/// every distinct set of events that fit in `size`): the windows to create, and from which
/// existing window each new one takes its starting value.
///
/// Every event `t` has its *left* window `[t - size, t]`; its *right* window
/// `[t + 1, t + 1 + size]` exists once an event falls in it. So an event at `ts` creates
/// its left window (unless it exists), its right window when later events fall in it
/// (out of order), and the right window of the latest earlier event when `ts` is the
/// first event in it. Existing windows holding `ts` take the event as they are.
///
/// A new window's events before this one are those of the existing window with the
/// largest start not after its own, if that window's latest event is in it; otherwise
/// none. (The events of any interval of `size` are those of the left window of its
/// latest event, or of the right window of the last event before it when that window
/// reaches further; both start at or before the interval, and no window starts between
/// them and the interval.) So values are seeded by copying, for any aggregate, without
/// keeping the events themselves; `latest` is each window's latest event time.
struct sliding_plan {
  window left;                 ///< the event's left window
  window right;                ///< the event's right window
  window previous_right;       ///< the right window of the latest earlier event
  bool create_left = false;
  bool create_right = false;   ///< seeded from `right_seed`, without this event
  bool create_previous_right = false; ///< starts empty, then takes this event
  int left_seed = -1;          ///< index in the key's windows; -1: start from `V{}`
  int right_seed = -1;
};

/// Plans an event at `ts` over a key's windows `ws` (sorted by start), `latest(i)` giving
/// the latest event time in `ws[i]`.
template <class Latest>
sliding_plan plan_sliding(const std::vector<window>& ws, int64_t ts, int64_t size,
                          Latest&& latest) {
  sliding_plan p;
  p.left = {ts - size, ts};
  p.right = {ts + 1, ts + 1 + size};
  bool left_exists = false, right_exists = false;
  int64_t previous = -1; // the latest event before ts
  int left_candidate = -1, right_candidate = -1;
  for (size_t i = 0; i < ws.size(); ++i) {
    auto& w = ws[i];
    auto last = latest(i);
    if (last < ts && last > previous)
      previous = last;
    left_exists = left_exists || w == p.left;
    right_exists = right_exists || w == p.right;
    if (w.start <= p.left.start)
      left_candidate = static_cast<int>(i);
    if (w.start <= p.right.start)
      right_candidate = static_cast<int>(i);
  }
  if (left_candidate >= 0 && latest(static_cast<size_t>(left_candidate)) >= p.left.start)
    p.left_seed = left_candidate;
  if (right_candidate >= 0 && latest(static_cast<size_t>(right_candidate)) >= p.right.start)
    p.right_seed = right_candidate;
  p.create_left = !left_exists;
  // Later events in [ts + 1, ts + 1 + size]: the right window holds exactly them.
  p.create_right = !right_exists && p.right_seed >= 0;
  if (previous >= 0 && ts <= previous + 1 + size) {
    p.previous_right = {previous + 1, previous + 1 + size};
    bool exists = false;
    for (auto& w : ws)
      exists = exists || w == p.previous_right;
    // It may be the left window itself (ts = previous + 1 + size): created once.
    p.create_previous_right = !exists && p.previous_right != p.left;
  }
  return p;
}

} // namespace mephisto::detail
