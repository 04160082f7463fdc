#pragma once

#include <map>
#include <string>

namespace testkit {

/// What a GET returned; `status` 0 with `error` when the request failed.
struct http_result {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string error;
};

/// A blocking HTTP/1.1 GET to `address` (`host:port`) with an optional Authorization header.
http_result http_get(const std::string& address, const std::string& target,
                     const std::string& authorization = {});

/// A Prometheus text page as `name{labels}` (exactly as written) -> value; comments skipped.
std::map<std::string, double> parse_metrics(const std::string& text);

} // namespace testkit
