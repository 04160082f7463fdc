#pragma once

#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <boost/json.hpp>

namespace mephisto {

/// Raw bytes, for topics whose payload is opaque to the app.
using bytes = std::vector<std::byte>;

/// `codec<T>` turns a `T` into the bytes of a Kafka key or value and back.
///
/// - `std::string`: the raw bytes (Faust's `raw`).
/// - `bytes`: the raw bytes.
/// - integers, floating point and `bool`: JSON text (`42`, `1.5`, `true`), which is what
///   Faust's default `json` serializer writes for numbers.
/// - any other type with Boost.JSON conversions (`tag_invoke` for `value_from` and
///   `value_to`): JSON.
///
/// `encode` appends to a caller-owned buffer (no allocation once it is warm); `decode`
/// writes into a caller-owned `T` that is reused between events, and reports malformed
/// input as `false` plus a reason instead of throwing.
template <class T, class = void>
struct codec;

template <>
struct codec<std::string> {
  static constexpr const char* name = "raw";
  static void encode(const std::string& x, std::string& out) { out.append(x); }
  static bool decode(std::string_view in, std::string& out, std::string&) {
    out.assign(in.data(), in.size());
    return true;
  }
};

template <>
struct codec<bytes> {
  static constexpr const char* name = "bytes";
  static void encode(const bytes& x, std::string& out) {
    out.append(reinterpret_cast<const char*>(x.data()), x.size());
  }
  static bool decode(std::string_view in, bytes& out, std::string&) {
    auto first = reinterpret_cast<const std::byte*>(in.data());
    out.assign(first, first + in.size());
    return true;
  }
};

template <>
struct codec<bool> {
  static constexpr const char* name = "json";
  static void encode(bool x, std::string& out) { out.append(x ? "true" : "false"); }
  static bool decode(std::string_view in, bool& out, std::string& why) {
    if (in == "true") {
      out = true;
      return true;
    }
    if (in == "false") {
      out = false;
      return true;
    }
    why = "expected true or false";
    return false;
  }
};

template <class T>
struct codec<T, std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>>> {
  static constexpr const char* name = "json";
  static void encode(T x, std::string& out) {
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof(buf), x);
    out.append(buf, res.ptr);
  }
  static bool decode(std::string_view in, T& out, std::string& why) {
    auto first = in.data();
    auto last = in.data() + in.size();
    auto res = std::from_chars(first, last, out);
    if (res.ec == std::errc{} && res.ptr == last && first != last)
      return true;
    if (res.ec == std::errc::result_out_of_range)
      why = "number out of range";
    else
      why = std::is_integral_v<T> ? "expected an integer" : "expected a number";
    return false;
  }
};

/// JSON through Boost.JSON for user types that define `tag_invoke` conversions.
template <class T>
struct codec<T, std::enable_if_t<!std::is_arithmetic_v<T>
                                 && boost::json::has_value_from<T>::value
                                 && boost::json::has_value_to<T>::value>> {
  static constexpr const char* name = "json";
  static void encode(const T& x, std::string& out) {
    out.append(boost::json::serialize(boost::json::value_from(x)));
  }
  static bool decode(std::string_view in, T& out, std::string& why) {
    boost::json::error_code ec;
    auto jv = boost::json::parse(in, ec);
    if (ec) {
      why = "malformed JSON: " + ec.message();
      return false;
    }
    try {
      out = boost::json::value_to<T>(jv);
      return true;
    } catch (const std::exception& e) {
      why = std::string{"JSON does not match the type: "} + e.what();
      return false;
    }
  }
};

/// True when `codec<T>` exists.
template <class T>
concept encodable = requires(const T& x, std::string& out, std::string_view in, T& y) {
  codec<T>::encode(x, out);
  { codec<T>::decode(in, y, out) } -> std::same_as<bool>;
};

/// The codec's `name` ("raw", "json", ...), "custom" for a codec that has none.
template <class T>
const char* codec_name() {
  if constexpr (requires { codec<T>::name; })
    return codec<T>::name;
  else
    return "custom";
}

/// `{"hex": "..."}`: bytes shown in JSON.
inline boost::json::value hex_json(std::string_view raw) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    hex.push_back(digits[c >> 4]);
    hex.push_back(digits[c & 0xF]);
  }
  return boost::json::object{{"hex", hex}};
}

/// The JSON form of a decoded key or value, for the web views (`/tables/<table>/<key>`):
/// numbers and booleans as JSON, strings as JSON strings, types with Boost.JSON
/// conversions as their JSON, bytes and any other type (a codec of the user's own) as
/// `{"hex": "<encoded bytes>"}`.
template <encodable T>
boost::json::value json_view(const T& x) {
  if constexpr (std::is_same_v<T, std::string>) {
    return boost::json::string(x);
  } else if constexpr (std::is_arithmetic_v<T>) {
    return boost::json::value(x);
  } else if constexpr (!std::is_same_v<T, bytes> && boost::json::has_value_from<T>::value) {
    return boost::json::value_from(x);
  } else {
    std::string raw;
    codec<T>::encode(x, raw);
    return hex_json(raw);
  }
}

} // namespace mephisto
