// libFuzzer target: every codec decodes arbitrary bytes without crashing, throwing or
// hanging, and what it decodes encodes to bytes that decode to the same value.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_types.hpp"
#include "mephisto/codec.hpp"

namespace {

template <class T>
void check(std::string_view in) {
  using codec = mephisto::codec<T>;
  T x{};
  std::string why;
  if (!codec::decode(in, x, why)) {
    if (why.empty())
      fuzz::fail("a refused input without a reason", mephisto::codec_name<T>());
    return;
  }
  std::string encoded;
  codec::encode(x, encoded);
  T y{};
  if (!codec::decode(encoded, y, why))
    fuzz::fail("the encoding of a decoded value does not decode", encoded);
  if (!fuzz::same(x, y))
    fuzz::fail("the round trip changed the value", encoded);
  std::string again;
  codec::encode(y, again);
  if (again != encoded)
    fuzz::fail("encoding is not stable", again);
  // The web views show decoded values as JSON.
  (void) boost::json::serialize(mephisto::json_view(x));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in{reinterpret_cast<const char*>(data), size};
  check<std::string>(in);
  check<mephisto::bytes>(in);
  check<bool>(in);
  check<int8_t>(in);
  check<uint8_t>(in);
  check<int16_t>(in);
  check<int32_t>(in);
  check<uint32_t>(in);
  check<int64_t>(in);
  check<uint64_t>(in);
  check<float>(in);
  check<double>(in);
  check<fuzz::reading>(in);
  return 0;
}
