#pragma once

// Not part of the documented API: mephisto::testing's HTTP probe of a worker's web server
// (`/ready`, `/metrics`), shared with the project's own suite (tests/support/http_client).

#include <chrono>
#include <string>

namespace mephisto::testing::detail {

/// What a GET returned; `status` 0 with `error` when the request failed.
struct http_answer {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string error;
};

/// A blocking HTTP/1.1 GET to `address` (`host:port`) with an optional Authorization
/// header, at most `timeout`.
http_answer http_get(const std::string& address, const std::string& target,
                     const std::string& authorization = {},
                     std::chrono::seconds timeout = std::chrono::seconds(5));

} // namespace mephisto::testing::detail
