#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "mephisto/error.hpp"

namespace mephisto::kafka {

/// librdkafka settings as (key, value) pairs, applied in order.
using settings = std::vector<std::pair<std::string, std::string>>;

struct conf_deleter {
  void operator()(rd_kafka_conf_t* c) const noexcept { rd_kafka_conf_destroy(c); }
};
using conf_ptr = std::unique_ptr<rd_kafka_conf_t, conf_deleter>;

/// Destroys a client handle; for consumers call `rd_kafka_consumer_close` first.
struct handle_deleter {
  void operator()(rd_kafka_t* rk) const noexcept { rd_kafka_destroy(rk); }
};
using handle_ptr = std::unique_ptr<rd_kafka_t, handle_deleter>;

struct queue_deleter {
  void operator()(rd_kafka_queue_t* q) const noexcept { rd_kafka_queue_destroy(q); }
};
using queue_ptr = std::unique_ptr<rd_kafka_queue_t, queue_deleter>;

/// Builds a librdkafka configuration; an unknown key or bad value is an error naming it.
expected<conf_ptr> make_conf(const settings& xs);

/// Creates a client of `type` (takes ownership of `conf`). Logs go to Mephisto's logger.
expected<handle_ptr> make_handle(rd_kafka_type_t type, conf_ptr conf);

/// Parses `kafka://host:port[,host:port]` into librdkafka's `bootstrap.servers` form.
expected<std::string> parse_broker_url(const std::string& url);

} // namespace mephisto::kafka
