#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mephisto/error.hpp"

namespace mephisto {

/// A `host:port` address, parsed once for every place that takes one (broker URLs, the
/// cluster's listen address, its seeds, `table get --peer`).
struct host_port {
  std::string host;
  uint16_t port = 0;

  std::string to_string() const { return host + ":" + std::to_string(port); }
};

/// Parses `text` as `host:port` (the last colon splits). `what` names the setting in the
/// error. Port 0 is refused unless `allow_any_port` (listen on any free port).
expected<host_port> parse_host_port(std::string_view text, const std::string& what,
                                    bool allow_any_port = false);

/// Parses `text` as `host:port,host:port,...` (empty text: none); an empty or bad entry is
/// an error naming `what`.
expected<std::vector<host_port>> parse_host_port_list(std::string_view text,
                                                      const std::string& what);

} // namespace mephisto
