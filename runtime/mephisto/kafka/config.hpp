#pragma once

#include <map>
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

/// Builds a librdkafka configuration; an unknown key or bad value is an error naming it
/// (the value too, unless it is a secret).
expected<conf_ptr> make_conf(const settings& xs);

/// The kinds of Kafka clients Mephisto makes, for the user's client properties.
enum class client_kind {
  consumer, ///< the group consumer, table restores, standby replicas, subscriptions
  producer, ///< the pipeline's producer, topic writers, `send`
  admin,    ///< metadata and topic creation
};

/// `base` followed by the user's properties for a client of `kind`
/// (`worker_options::client_properties`): first every `kafka.<property>`, then the kind's
/// own `consumer.<property>` or `producer.<property>`, so the narrower one wins.
settings with_client_properties(settings base, const std::map<std::string, std::string>& props,
                                client_kind kind);

/// Checks the user's client properties before any client is made: each key has one of the
/// prefixes `kafka.`, `consumer.` or `producer.`, names a librdkafka property that
/// Mephisto does not set itself, and has a value librdkafka accepts. The error names the
/// property (never a secret's value).
caf::error check_client_properties(const std::map<std::string, std::string>& props);

/// Notes a refused login (SASL or TLS authentication) of one client. librdkafka reports it
/// only as an error event, served by `rd_kafka_poll`, while the request that needed the
/// login just times out. `install` on the configuration before making the client; ask
/// `failure` (which serves the pending events) after a request failed. Used on the
/// caller's thread only.
class auth_watch {
public:
  void install(rd_kafka_conf_t* conf);
  /// Librdkafka's reason for the last refused login, empty when there was none.
  std::string failure(rd_kafka_t* rk);

private:
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  std::string failure_;
};

/// Whether librdkafka property `key` holds a secret (a password, a private key, a JAAS or
/// OAuth configuration): its value is never logged nor shown.
bool is_secret_property(const std::string& key);

/// Creates a client of `type` (takes ownership of `conf`). Logs go to Mephisto's logger.
expected<handle_ptr> make_handle(rd_kafka_type_t type, conf_ptr conf);

/// Parses `kafka://host:port[,host:port]` into librdkafka's `bootstrap.servers` form.
expected<std::string> parse_broker_url(const std::string& url);

} // namespace mephisto::kafka
