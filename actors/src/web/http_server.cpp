#include "web/http_server.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "mephisto/log.hpp"

namespace mephisto::web {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr auto io_timeout = std::chrono::seconds(30);
constexpr size_t max_body = 64 * 1024;
constexpr int max_connections = 64;

/// Lets answers from other threads reach the server's I/O context while it exists.
struct answer_gate {
  std::mutex mtx;
  net::io_context* io = nullptr;  ///< null once the server stopped
};

/// One connection: read a request, have the handler answer it, write the answer, and
/// again while the client keeps the connection alive. Lives as long as an asynchronous
/// operation (a read, a write, or the timer that bounds the handler's answer) holds it.
class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket socket, request_handler& handler, std::shared_ptr<answer_gate> gate,
          std::shared_ptr<std::atomic<int>> connections)
    : stream_(std::move(socket)),
      answer_timer_(stream_.get_executor()),
      handler_(handler),
      gate_(std::move(gate)),
      connections_(std::move(connections)) {
  }

  ~session() { connections_->fetch_sub(1); }

  void read_next() {
    parser_.emplace();
    parser_->body_limit(max_body);
    stream_.expires_after(io_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->on_read(ec);
                     });
  }

private:
  void on_read(beast::error_code ec) {
    if (ec) { // end of stream, timeout, bad request: nothing more to say on this connection
      if (ec != http::error::end_of_stream && ec != beast::error::timeout)
        reply_bad_request(ec);
      else
        close();
      return;
    }
    auto& req = parser_->get();
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    head_ = req.method() == http::verb::head;
    http_request r;
    r.method = std::string{req.method_string()};
    r.target = std::string{req.target()};
    if (auto i = req.find(http::field::authorization); i != req.end())
      r.authorization = std::string{i->value()};
    stream_.expires_never();
    answer_timer_.expires_after(io_timeout);
    answer_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) { // the handler did not answer in time
        http_response res{504, "application/json", R"({"error":"timed out"})", {}};
        self->write(std::move(res));
      }
    });
    std::weak_ptr<session> weak = shared_from_this();
    handler_(r, [weak, gate = gate_](http_response res) {
      std::lock_guard<std::mutex> guard{gate->mtx};
      if (gate->io == nullptr)
        return;
      net::post(*gate->io, [weak, res = std::move(res)]() mutable {
        if (auto self = weak.lock())
          self->write(std::move(res));
      });
    });
  }

  void reply_bad_request(beast::error_code ec) {
    version_ = 11;
    keep_alive_ = false;
    head_ = false;
    auto status = ec == http::error::body_limit || ec == http::error::header_limit ? 413u : 400u;
    write({status, "application/json", R"({"error":"bad request"})", {}});
  }

  void write(http_response res) {
    if (answered_)
      return; // the timer's 504 went first, or the handler answered twice
    answered_ = true;
    answer_timer_.cancel();
    auto msg = std::make_shared<http::response<http::string_body>>(
      static_cast<http::status>(res.status), version_);
    msg->set(http::field::server, "mephisto");
    msg->set(http::field::content_type, res.content_type);
    for (auto& [name, value] : res.headers)
      msg->set(name, value);
    msg->keep_alive(keep_alive_);
    msg->body() = std::move(res.body);
    msg->prepare_payload();
    if (head_)
      msg->body().clear(); // Content-Length stays that of the GET answer
    stream_.expires_after(io_timeout);
    http::async_write(stream_, *msg,
                      [self = shared_from_this(), msg](beast::error_code ec, size_t) {
                        if (ec || !self->keep_alive_) {
                          self->close();
                          return;
                        }
                        self->answered_ = false;
                        self->read_next();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  net::steady_timer answer_timer_;
  request_handler& handler_;
  std::shared_ptr<answer_gate> gate_;
  std::shared_ptr<std::atomic<int>> connections_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;
  bool answered_ = false;
};

} // namespace

struct http_server::impl {
  net::io_context io{1};  // first: destroyed last, after the sessions it still holds
  tcp::acceptor acceptor{io};
  request_handler handler;
  std::string address;
  std::shared_ptr<answer_gate> gate = std::make_shared<answer_gate>();
  std::shared_ptr<std::atomic<int>> connections = std::make_shared<std::atomic<int>>(0);
  std::thread thread;
  bool stopped = false;

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor.is_open())
        return;
      if (!ec) {
        if (connections->fetch_add(1) >= max_connections) {
          connections->fetch_sub(1);
          beast::error_code ignored;
          socket.close(ignored);
        } else {
          std::make_shared<session>(std::move(socket), handler, gate, connections)->read_next();
        }
      }
      accept();
    });
  }
};

http_server::http_server(std::unique_ptr<impl> x) : impl_(std::move(x)) {
}

expected<std::unique_ptr<http_server>>
http_server::listen(const host_port& where, const std::string& setting,
                    request_handler handler) {
  auto x = std::make_unique<impl>();
  x->handler = std::move(handler);
  beast::error_code ec;
  auto fail = [&](const char* step) {
    return make_error(errc::bad_config, setting + " " + where.to_string() + ": cannot "
                                              + step + ": " + ec.message());
  };
  auto addr = net::ip::make_address(where.host == "localhost" ? "127.0.0.1" : where.host, ec);
  if (ec)
    return fail("parse the address (give an IP address)");
  tcp::endpoint ep{addr, where.port};
  x->acceptor.open(ep.protocol(), ec);
  if (ec)
    return fail("open a socket");
  x->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  x->acceptor.bind(ep, ec);
  if (ec)
    return fail("listen");
  x->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return fail("listen");
  auto local = x->acceptor.local_endpoint(ec);
  x->address = where.host + ":" + std::to_string(local.port());
  x->gate->io = &x->io;
  return std::unique_ptr<http_server>{new http_server(std::move(x))};
}

http_server::~http_server() {
  stop();
}

const std::string& http_server::address() const noexcept {
  return impl_->address;
}

void http_server::start() {
  impl_->accept();
  impl_->thread = std::thread([x = impl_.get()] {
    try {
      x->io.run();
    } catch (const std::exception& e) {
      log().error("web server stopped: {}", e.what());
    }
  });
}

void http_server::stop() {
  auto& x = *impl_;
  if (x.stopped)
    return;
  x.stopped = true;
  {
    std::lock_guard<std::mutex> guard{x.gate->mtx};
    x.gate->io = nullptr;
  }
  net::post(x.io, [&x] {
    beast::error_code ignored;
    x.acceptor.close(ignored);
  });
  x.io.stop();
  if (x.thread.joinable())
    x.thread.join();
}

} // namespace mephisto::web
