#include "mephisto/host_port.hpp"

#include <algorithm>
#include <cctype>

namespace mephisto {

expected<host_port> parse_host_port(std::string_view text, const std::string& what,
                                    bool allow_any_port) {
  auto bad = [&](const std::string& why) {
    return make_error(errc::bad_config,
                      what + " '" + std::string{text} + "': " + why + " (use host:port)");
  };
  auto colon = text.rfind(':');
  if (text.empty() || colon == std::string_view::npos || colon == 0 || colon + 1 == text.size())
    return bad("not host:port");
  auto port = text.substr(colon + 1);
  if (port.size() > 5)
    return bad("port out of range");
  unsigned long n = 0;
  for (char c : port) {
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return bad("port is not a number");
    n = n * 10 + static_cast<unsigned long>(c - '0');
  }
  if (n > 65535 || (n == 0 && !allow_any_port))
    return bad("port out of range");
  return host_port{std::string{text.substr(0, colon)}, static_cast<uint16_t>(n)};
}

expected<std::vector<host_port>> parse_host_port_list(std::string_view text,
                                                      const std::string& what) {
  std::vector<host_port> out;
  for (size_t pos = 0; !text.empty() && pos <= text.size();) {
    auto end = std::min(text.find(',', pos), text.size());
    auto one = parse_host_port(text.substr(pos, end - pos), what);
    if (!one)
      return one.error();
    out.push_back(std::move(*one));
    pos = end + 1;
  }
  return out;
}

} // namespace mephisto
