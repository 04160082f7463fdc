#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mephisto/codec.hpp"
#include "mephisto/window.hpp"

namespace mephisto {

/// Which records of the left stream a windowed stream–stream join reports.
enum class join_kind {
  inner, ///< only matched pairs
  left,  ///< matched pairs, and each left record without a match once its window closed
};

/// How `app::join` joins.
struct join_options {
  join_kind kind = join_kind::inner;
  /// How late (behind the join's clock, the highest event time of both streams) a record
  /// may arrive and still join.
  std::chrono::milliseconds grace{0};
};

namespace detail {

/// One buffered record of a join side.
template <class V>
struct join_entry {
  int64_t ts = 0;
  bool matched = false;
  V value{};
};

/// The records of one side of a join that fall in one bucket (a tumbling window of the
/// join window's size) of one key: a windowed table's value.
template <class V>
struct join_bucket {
  std::vector<join_entry<V>> entries;
};

} // namespace detail

/// A bucket encoded as its entries, each: time (8 bytes, big-endian), matched (1 byte),
/// the value's length (4 bytes, big-endian) and the value (its codec).
template <class V>
struct codec<detail::join_bucket<V>> {
  static constexpr const char* name = "join-bucket";
  static void encode(const detail::join_bucket<V>& x, std::string& out) {
    for (auto& e : x.entries) {
      detail::put_ordered_i64(e.ts, out);
      out.push_back(e.matched ? '\x01' : '\x00');
      auto len_at = out.size();
      out.append(4, '\0');
      codec<V>::encode(e.value, out);
      detail::put_u32_at(out, len_at, static_cast<uint32_t>(out.size() - len_at - 4));
    }
  }
  static bool decode(std::string_view in, detail::join_bucket<V>& out, std::string& why) {
    out.entries.clear();
    while (!in.empty()) {
      if (in.size() < 13) {
        why = "truncated join bucket";
        return false;
      }
      auto& e = out.entries.emplace_back();
      e.ts = detail::get_ordered_i64(in.data());
      e.matched = in[8] != '\0';
      auto len = detail::get_u32(in.data() + 9);
      if (in.size() < size_t{13} + len) {
        why = "truncated join bucket value";
        return false;
      }
      if (!codec<V>::decode(in.substr(13, len), e.value, why))
        return false;
      in.remove_prefix(13 + len);
    }
    return true;
  }
};

} // namespace mephisto
