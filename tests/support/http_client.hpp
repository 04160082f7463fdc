#pragma once

#include <map>
#include <string>

#include "mephisto/detail/http_get.hpp"

namespace testkit {

/// What a GET returned (the kit's answer); `status` 0 with `error` when the request failed.
using http_result = mephisto::testing::detail::http_answer;

/// A blocking HTTP/1.1 GET to `address` (`host:port`) with an optional Authorization
/// header: the kit's `detail::http_get` with room for a slow page (30 s).
http_result http_get(const std::string& address, const std::string& target,
                     const std::string& authorization = {});

/// A Prometheus text page as `name{labels}` (exactly as written) -> value; comments skipped.
std::map<std::string, double> parse_metrics(const std::string& text);

} // namespace testkit
