#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

#include "mephisto/codec.hpp"
#include "mephisto/table.hpp"

namespace mephisto {

/// One window of a windowed table, in ms since the epoch. Tumbling and hopping windows are
/// `[start, end)`; a session window spans `[start, end]`, its first and last event; a
/// sliding window is `[start, end]`, `end = start + size`.
struct window {
  int64_t start = 0;
  int64_t end = 0;

  friend bool operator==(const window&, const window&) = default;
  friend auto operator<=>(const window&, const window&) = default;
};

/// The kinds of windows (Kafka Streams' and Faust's vocabulary).
enum class window_kind {
  tumbling, ///< fixed size, one window per event
  hopping,  ///< fixed size, a new window every `step`: an event is in `size / step` windows
  session,  ///< one per burst of activity of a key: events less than `gap` apart merge
  sliding,  ///< fixed size, ends included: one per distinct set of events within `size`
};

/// The shape of a windowed table's windows and how long they live, in ms.
///
/// A window *closes* once the table's clock reaches `close_at`: its end plus `grace` (a
/// session's last event plus `gap` plus `grace`, plus one; a sliding window's end plus
/// `grace`, plus one). Its final value then goes to
/// the `on_window_close` callback, exactly once per window under exactly-once. Events for a
/// closed window are *late*: counted, and dead-lettered when `dead_letter_late` is set. A
/// closed window stays readable until `expires` past its end (at least `grace`), then it
/// is deleted from the store and its changelog (a tombstone). A sliding window is kept at
/// least `size` past its grace: new windows take their values from older ones.
struct window_spec {
  window_kind kind = window_kind::tumbling;
  int64_t size = 0;     ///< tumbling, hopping, sliding
  int64_t step = 0;     ///< hopping (tumbling: = size)
  int64_t gap = 0;      ///< session
  int64_t grace = 0;
  int64_t expires = 0;  ///< past the end; below `grace` means `grace`
  /// The table's clock also follows the wall clock, so windows close on a partition that
  /// gets no more events (checked every `window_tick_ms` of the worker).
  bool close_on_wall_clock = false;
  /// Late events also go to the dead-letter topic (`mephisto.error.kind: late`).
  bool dead_letter_late = false;

  /// The clock at which `w` closes.
  int64_t close_at(const window& w) const noexcept {
    switch (kind) {
      case window_kind::session:
        return w.end + gap + grace + 1;
      case window_kind::sliding:
        return w.end + grace + 1;
      default:
        return w.end + grace;
    }
  }

  /// The clock at which `w` is deleted.
  int64_t expire_at(const window& w) const noexcept {
    auto keep = expires > grace ? expires : grace;
    if (kind == window_kind::sliding && keep < size + grace + 1)
      keep = size + grace + 1;
    return close_at(w) - grace + keep;
  }

  /// Whether `w` holds event time `ts` (session and sliding windows hold their end).
  bool holds(const window& w, int64_t ts) const noexcept {
    if (kind == window_kind::session || kind == window_kind::sliding)
      return ts >= w.start && ts <= w.end;
    return ts >= w.start && ts < w.end;
  }

  /// The last instant of `w`: what its final result is stamped with.
  int64_t last_instant(const window& w) const noexcept {
    return kind == window_kind::session || kind == window_kind::sliding ? w.end : w.end - 1;
  }
};

/// How a windowed table is declared, beyond its windows' shape.
struct windowed_options {
  std::chrono::milliseconds grace{0};
  std::chrono::milliseconds expires{0};
  bool close_on_wall_clock = false;
  bool dead_letter_late = false;
  /// Partitions of the table and its changelog (0: the worker's `topic_partitions`).
  int32_t partitions = 0;
};

/// Tumbling windows of `size`.
inline window_spec tumbling(std::chrono::milliseconds size) {
  return {.kind = window_kind::tumbling, .size = size.count(), .step = size.count()};
}

/// Hopping windows of `size`, one starting every `step`.
inline window_spec hopping(std::chrono::milliseconds size, std::chrono::milliseconds step) {
  return {.kind = window_kind::hopping, .size = size.count(), .step = step.count()};
}

/// Session windows closed by `gap` of inactivity.
inline window_spec session(std::chrono::milliseconds gap) {
  return {.kind = window_kind::session, .gap = gap.count()};
}

/// Sliding windows of `size` (Kafka Streams' `SlidingWindows.ofTimeDifference...`): every
/// event has the window `[t - size, t]`, and `[t + 1, t + 1 + size]` once a later event
/// falls in it; each window holds every event within it, both ends included.
inline window_spec sliding(std::chrono::milliseconds size) {
  return {.kind = window_kind::sliding, .size = size.count()};
}

/// A typed handle to a declared windowed table (`app::windowed_table`). Cheap to copy.
template <class K, class V>
class windowed_table {
public:
  using key_type = K;
  using value_type = V;

  windowed_table(uint32_t index, std::string name, window_spec spec)
    : index_(index), name_(std::move(name)), spec_(spec) {}

  uint32_t index() const noexcept { return index_; }
  const std::string& name() const noexcept { return name_; }
  const window_spec& spec() const noexcept { return spec_; }

  /// For `agent_options::tables`.
  operator table_ref() const noexcept { return {index_}; }

private:
  uint32_t index_;
  std::string name_;
  window_spec spec_;
};

namespace detail {

/// A row key of a windowed table's store: the user's key and a window, or the table
/// partition's clock (`clock == true`, one row). Encoded so that a key's windows are
/// adjacent and ordered by start in RocksDB: `0x00`, the encoded key's length (4 bytes,
/// big-endian), the key, start and end (8 bytes each, big-endian, sign bit flipped);
/// the clock row is the single byte `0x01`.
template <class K>
struct window_key {
  K key{};
  window w{};
  bool clock = false;

  friend bool operator==(const window_key&, const window_key&) = default;
};

/// A row value: the user's value, or the clock (ms) in the clock row. Encoded as `0x00`
/// and the value, or `0x01` and 8 bytes; a sliding window's row also keeps the time of its
/// latest event: `0x02`, 8 bytes, the value.
template <class V>
struct window_cell {
  V value{};
  int64_t clock = -1;
  int64_t latest_event = -1; ///< sliding windows only
};

inline void put_ordered_i64(int64_t x, std::string& out) {
  auto u = static_cast<uint64_t>(x) ^ (uint64_t{1} << 63);
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((u >> shift) & 0xFF));
}

/// Writes `n` as 4 bytes, big-endian, over `out[at, at + 4)`.
inline void put_u32_at(std::string& out, size_t at, uint32_t n) {
  for (size_t i = 0; i < 4; ++i)
    out[at + i] = static_cast<char>((n >> (24 - 8 * i)) & 0xFF);
}

inline uint32_t get_u32(const char* p) {
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i)
    n = (n << 8) | static_cast<unsigned char>(p[i]);
  return n;
}

inline int64_t get_ordered_i64(const char* p) {
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i)
    u = (u << 8) | static_cast<unsigned char>(p[i]);
  return static_cast<int64_t>(u ^ (uint64_t{1} << 63));
}

/// A key's windows as a table lookup answers them (`/tables/<t>/<key>`): per window its
/// start and end (8 bytes each) and its encoded value (4 bytes of length, the bytes).
template <class V>
void append_window_entry(std::string& out, const window& w, const V& value) {
  put_ordered_i64(w.start, out);
  put_ordered_i64(w.end, out);
  auto len_at = out.size();
  out.append(4, '\0');
  codec<V>::encode(value, out);
  put_u32_at(out, len_at, static_cast<uint32_t>(out.size() - len_at - 4));
}

/// Calls `fn(window, encoded value)` for each entry `append_window_entry` wrote, until it
/// returns false. False when `fn` did or the bytes are cut short (`why`).
template <class F>
bool for_each_window_entry(std::string_view in, F&& fn, std::string& why) {
  while (!in.empty()) {
    if (in.size() < 20 || in.size() - 20 < get_u32(in.data() + 16)) {
      why = "a window entry is cut short";
      return false;
    }
    window w{get_ordered_i64(in.data()), get_ordered_i64(in.data() + 8)};
    auto len = get_u32(in.data() + 16);
    if (!fn(w, in.substr(20, len)))
      return false;
    in.remove_prefix(20 + len);
  }
  return true;
}

} // namespace detail

template <class K>
struct codec<detail::window_key<K>> {
  static constexpr const char* name = "window-key";
  static void encode(const detail::window_key<K>& x, std::string& out) {
    if (x.clock) {
      out.push_back('\x01');
      return;
    }
    out.push_back('\x00');
    auto len_at = out.size();
    out.append(4, '\0');
    codec<K>::encode(x.key, out);
    detail::put_u32_at(out, len_at, static_cast<uint32_t>(out.size() - len_at - 4));
    detail::put_ordered_i64(x.w.start, out);
    detail::put_ordered_i64(x.w.end, out);
  }
  static bool decode(std::string_view in, detail::window_key<K>& out, std::string& why) {
    if (in.size() == 1 && in[0] == '\x01') {
      out.clock = true;
      return true;
    }
    if (in.size() < 21 || in[0] != '\x00') {
      why = "not a window key";
      return false;
    }
    auto len = detail::get_u32(in.data() + 1);
    if (in.size() != size_t{21} + len) {
      why = "window key of the wrong length";
      return false;
    }
    if (!codec<K>::decode(in.substr(5, len), out.key, why))
      return false;
    out.w.start = detail::get_ordered_i64(in.data() + 5 + len);
    out.w.end = detail::get_ordered_i64(in.data() + 13 + len);
    out.clock = false;
    return true;
  }
};

template <class V>
struct codec<detail::window_cell<V>> {
  static constexpr const char* name = "window-value";
  static void encode(const detail::window_cell<V>& x, std::string& out) {
    if (x.clock >= 0) {
      out.push_back('\x01');
      detail::put_ordered_i64(x.clock, out);
      return;
    }
    if (x.latest_event >= 0) {
      out.push_back('\x02');
      detail::put_ordered_i64(x.latest_event, out);
    } else {
      out.push_back('\x00');
    }
    codec<V>::encode(x.value, out);
  }
  static bool decode(std::string_view in, detail::window_cell<V>& out, std::string& why) {
    if (in.size() == 9 && in[0] == '\x01') {
      out.clock = detail::get_ordered_i64(in.data() + 1);
      return true;
    }
    out.clock = -1;
    out.latest_event = -1;
    if (in.size() >= 9 && in[0] == '\x02') {
      out.latest_event = detail::get_ordered_i64(in.data() + 1);
      return codec<V>::decode(in.substr(9), out.value, why);
    }
    if (in.empty() || in[0] != '\x00') {
      why = "not a window value";
      return false;
    }
    return codec<V>::decode(in.substr(1), out.value, why);
  }
};

} // namespace mephisto

template <class K>
struct std::hash<mephisto::detail::window_key<K>> {
  size_t operator()(const mephisto::detail::window_key<K>& x) const noexcept {
    auto h = std::hash<K>{}(x.key);
    h ^= std::hash<int64_t>{}(x.w.start) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= std::hash<int64_t>{}(x.w.end) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return x.clock ? ~h : h;
  }
};
