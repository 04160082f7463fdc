#include "support/http_client.hpp"

#include <sstream>

namespace testkit {

http_result http_get(const std::string& address, const std::string& target,
                     const std::string& authorization) {
  return mephisto::testing::detail::http_get(address, target, authorization,
                                             std::chrono::seconds(30));
}

std::map<std::string, double> parse_metrics(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    auto space = line.rfind(' ');
    if (space == std::string::npos)
      continue;
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

} // namespace testkit
