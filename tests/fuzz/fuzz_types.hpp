#pragma once

// What the fuzz targets share: a user struct with Boost.JSON conversions (as an app would
// write one) and a failure that aborts with a message, so that libFuzzer saves the input.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "mephisto/codec.hpp"

namespace fuzz {

/// A table value as apps declare them: numbers, text, a flag and a list.
struct reading {
  int64_t id = 0;
  std::string label;
  double level = 0;
  bool ok = false;
  std::vector<int64_t> samples;

  friend bool operator==(const reading& a, const reading& b) {
    auto same = [](double x, double y) { return x == y || (std::isnan(x) && std::isnan(y)); };
    return a.id == b.id && a.label == b.label && same(a.level, b.level) && a.ok == b.ok
           && a.samples == b.samples;
  }
};

inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const reading& r) {
  jv = {{"id", r.id},
        {"label", r.label},
        {"level", r.level},
        {"ok", r.ok},
        {"samples", boost::json::value_from(r.samples)}};
}

inline reading tag_invoke(boost::json::value_to_tag<reading>, const boost::json::value& jv) {
  auto& o = jv.as_object();
  reading r;
  r.id = o.at("id").to_number<int64_t>();
  r.label = std::string{o.at("label").as_string()};
  r.level = o.at("level").to_number<double>();
  r.ok = o.at("ok").as_bool();
  r.samples = boost::json::value_to<std::vector<int64_t>>(o.at("samples"));
  return r;
}

/// Equality for decoded values: NaN equals NaN (the codecs may decode "nan").
template <class T>
bool same(const T& x, const T& y) {
  if constexpr (std::is_floating_point_v<T>)
    return x == y || (std::isnan(x) && std::isnan(y));
  else
    return x == y;
}

[[noreturn]] inline void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz check failed: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

} // namespace fuzz
