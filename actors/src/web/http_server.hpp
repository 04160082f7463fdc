#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mephisto/error.hpp"
#include "mephisto/host_port.hpp"

namespace mephisto::web {

/// What a handler sees of a request.
struct http_request {
  std::string method;         ///< GET, HEAD, POST, ...
  std::string target;         ///< path and query, still percent-encoded
  std::string authorization;  ///< the Authorization header, if any
};

/// What a handler answers.
struct http_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra ones
};

/// Takes a handler's answer. Call it once, from any thread; calls after the server
/// stopped (or after the request timed out) are dropped.
using responder = std::function<void(http_response)>;

/// Serves one request. Called on the server's thread: it must not block; it may answer
/// later, from another thread, through `respond`.
using request_handler = std::function<void(const http_request& req, responder respond)>;

/// A small HTTP/1.1 server (Boost.Beast): keep-alive connections, requests up to 64 KiB,
/// a 30 s limit per read, write and handler answer (then 504).
///
/// Owned by the worker. One thread of its own runs every connection with asynchronous
/// I/O; handlers run on it. At most 64 connections at a time: more are closed at once
/// (bounded memory whatever the clients do). `stop` (or the destructor) closes the
/// listener and every connection and joins the thread; answers still in flight are dropped.
class http_server {
public:
  /// Listens on `where` (port 0: a free one). Fails when the address cannot be bound
  /// (in use, not local), with an error naming the `setting`.
  static expected<std::unique_ptr<http_server>>
  listen(const host_port& where, const std::string& setting, request_handler handler);

  ~http_server();

  /// `host:port` it listens on (the port chosen when 0 was asked).
  const std::string& address() const noexcept;

  /// Starts the thread that accepts and serves connections.
  void start();

  void stop();

  struct impl;

private:
  explicit http_server(std::unique_ptr<impl> x);

  std::unique_ptr<impl> impl_;
};

} // namespace mephisto::web
