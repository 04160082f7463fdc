#pragma once

// The windowed crash tests' workload and verdict (window_app.cpp): keyed events whose
// values are event times, the count each (key, one-second window) must end with, and how
// the final results a run left compare with it.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "support/testkit.hpp"

namespace testkit {

/// Event times start at 2024-01-01T00:00:00Z, 2 ms apart (500 per second of event time).
inline constexpr int64_t window_base_ms = 1704067200000;

struct window_stream {
  std::vector<std::pair<std::string, std::string>> events; ///< (key, event time)
  std::map<std::pair<std::string, int64_t>, int64_t> truth; ///< (key, window start) -> count
  /// One event per key `closer-0..199`, far past the others: every partition gets some
  /// (8 partitions: each misses all 200 with probability (7/8)^200), so every window of
  /// the events closes.
  std::vector<std::pair<std::string, std::string>> closers;
};

inline window_stream make_window_events(size_t n, size_t keys, uint32_t seed) {
  window_stream out;
  auto keyed = make_keyed_events(n, keys, seed);
  for (size_t i = 0; i < n; ++i) {
    auto at = window_base_ms + static_cast<int64_t>(i) * 2;
    ++out.truth[{keyed.events[i].first, at - at % 1000}];
    out.events.emplace_back(keyed.events[i].first, std::to_string(at));
  }
  for (int c = 0; c < 200; ++c)
    out.closers.emplace_back("closer-" + std::to_string(c),
                             std::to_string(window_base_ms + 100'000'000));
  return out;
}

/// How the final results ("<start> <count>" per key) compare with the truth.
struct window_verdict {
  size_t windows = 0;    ///< in the truth
  size_t missing = 0;    ///< windows without a final result
  size_t duplicated = 0; ///< final results beyond the first of a window
  size_t wrong = 0;      ///< windows whose first final result is not the truth
  size_t unexpected = 0; ///< final results of windows the truth does not have
};

inline window_verdict judge_finals(const std::vector<record>& finals,
                                   const std::map<std::pair<std::string, int64_t>, int64_t>& truth) {
  std::map<std::pair<std::string, int64_t>, std::vector<int64_t>> got;
  for (auto& r : finals) {
    auto space = r.value.find(' ');
    if (space == std::string::npos)
      continue;
    got[{r.key, std::stoll(r.value.substr(0, space))}].push_back(
      std::stoll(r.value.substr(space + 1)));
  }
  window_verdict v;
  v.windows = truth.size();
  for (auto& [window, n] : truth) {
    auto it = got.find(window);
    if (it == got.end()) {
      ++v.missing;
      continue;
    }
    v.duplicated += it->second.size() - 1;
    if (it->second.front() != n)
      ++v.wrong;
  }
  for (auto& [window, counts] : got)
    if (truth.count(window) == 0)
      v.unexpected += counts.size();
  return v;
}

/// How the sink's batches ("key@at" items joined by commas) cover the events (closers
/// included: they are events too).
struct batch_verdict {
  size_t batches = 0;
  size_t events = 0;     ///< events fed
  size_t missing = 0;    ///< events in no batch
  size_t repeated = 0;   ///< items beyond an event's first
  size_t oversized = 0;  ///< batches of more than `max_events` items
  size_t unexpected = 0; ///< items that are no event fed
};

inline batch_verdict judge_batches(const std::vector<record>& batches, const window_stream& s,
                                   size_t max_events) {
  std::map<std::string, size_t> seen;
  for (auto& [key, at] : s.events)
    seen.emplace(key + "@" + at, 0);
  for (auto& [key, at] : s.closers)
    seen.emplace(key + "@" + at, 0);
  batch_verdict v;
  v.events = seen.size();
  for (auto& r : batches) {
    ++v.batches;
    size_t items = 0;
    for (size_t from = 0; from <= r.value.size();) {
      auto comma = r.value.find(',', from);
      if (comma == std::string::npos)
        comma = r.value.size();
      ++items;
      auto it = seen.find(r.value.substr(from, comma - from));
      if (it == seen.end())
        ++v.unexpected;
      else if (it->second++ > 0)
        ++v.repeated;
      from = comma + 1;
    }
    if (items > max_events)
      ++v.oversized;
  }
  for (auto& [item, n] : seen)
    if (n == 0)
      ++v.missing;
  return v;
}

} // namespace testkit
