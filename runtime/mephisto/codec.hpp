#pragma once

#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

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

namespace detail {

/// Builds the same value as `boost::json::parse`, except that every number with a fraction
/// or an exponent is converted from its text by `std::from_chars` (correctly rounded).
/// Boost.JSON 1.81's own conversion may give a neighbour of the nearest double (1.83 added
/// `parse_options::numbers` for that): the double a codec wrote, e.g. 2.2233720368547758E18,
/// would come back one ulp off, and drift on every changelog round trip. A number beyond
/// the doubles (1e400) is an error.
struct json_handler {
  static constexpr std::size_t max_object_size = boost::json::object::max_size();
  static constexpr std::size_t max_array_size = boost::json::array::max_size();
  static constexpr std::size_t max_key_size = boost::json::string::max_size();
  static constexpr std::size_t max_string_size = boost::json::string::max_size();
  using string_view = boost::json::string_view;
  using error_code = boost::json::error_code;

  boost::json::value_stack st;
  std::string number; ///< the text of the number being parsed

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) { return true; }
  bool on_object_end(std::size_t n, error_code&) {
    st.push_object(n);
    return true;
  }
  bool on_array_begin(error_code&) { return true; }
  bool on_array_end(std::size_t n, error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(string_view s, std::size_t, error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_key(string_view s, std::size_t, error_code&) {
    st.push_key(s);
    return true;
  }
  bool on_string_part(string_view s, std::size_t, error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(string_view s, std::size_t, error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(string_view s, error_code&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, string_view, error_code&) {
    number.clear();
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, string_view, error_code&) {
    number.clear();
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, string_view s, error_code& ec) {
    number.append(s.data(), s.size());
    double precise = 0;
    auto last = number.data() + number.size();
    auto res = std::from_chars(number.data(), last, precise);
    if (res.ec == std::errc{} && res.ptr == last)
      d = precise; // else (out of range): Boost.JSON's value
    number.clear();
    if (!std::isfinite(d)) {
      // 1e400: no double holds it, and the infinity would encode as "Infinity", not JSON.
      ec = boost::json::error::exponent_overflow;
      return false;
    }
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }
};

/// `boost::json::parse(in, ec)` with correctly rounded doubles (see `json_handler`).
inline boost::json::value parse_json(std::string_view in, boost::json::error_code& ec) {
  boost::json::basic_parser<json_handler> p{boost::json::parse_options{}};
  p.handler().st.reset();
  auto n = p.write_some(false, in.data(), in.size(), ec);
  if (!ec && n < in.size())
    ec = boost::json::error::extra_data;
  if (ec)
    return nullptr;
  return p.handler().st.release();
}

} // namespace detail

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
    auto jv = detail::parse_json(in, ec);
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
