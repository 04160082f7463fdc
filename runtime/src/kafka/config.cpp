#include "mephisto/kafka/config.hpp"

#include "mephisto/host_port.hpp"

#include <cctype>
#include <map>

#include "mephisto/log.hpp"

namespace mephisto::kafka {

namespace {

constexpr const char* client_prefixes[] = {"kafka.", "consumer.", "producer."};

/// Properties Mephisto sets itself, from its own options or because its guarantees rest
/// on them: the user cannot override them.
const std::map<std::string, std::string>& owned_properties() {
  static const std::map<std::string, std::string> owned = {
    {"bootstrap.servers", "use the broker option"},
    {"metadata.broker.list", "use the broker option"},
    {"group.id", "the app id names the group (option id)"},
    {"group.instance.id", "use the instance_id option"},
    {"client.id", "each client's id names the app and its role"},
    {"enable.auto.commit", "offsets are committed once processed"},
    {"enable.auto.offset.store", "offsets are committed once processed"},
    {"isolation.level", "changelogs and inputs are read committed"},
    {"enable.partition.eof", "Mephisto reads partition ends itself"},
    {"auto.offset.reset", "a new group starts at the earliest offset"},
    {"partition.assignment.strategy", "use the partition_assignor option"},
    {"session.timeout.ms", "use the session_timeout_ms option"},
    {"transactional.id", "exactly-once names its transactions"},
    {"enable.idempotence", "the producer is always idempotent"},
    {"partitioner", "keys are partitioned as Java's clients do (murmur2_random)"},
    {"linger.ms", "use the linger_ms option"},
  };
  return owned;
}

void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  auto name = rd_kafka_name(rk);
  if (level <= 3)
    log().error("kafka {} {}: {}", name, fac, buf);
  else if (level <= 4)
    log().warn("kafka {} {}: {}", name, fac, buf);
  else if (level <= 6)
    log().info("kafka {} {}: {}", name, fac, buf);
  else
    log().debug("kafka {} {}: {}", name, fac, buf);
}

/// Sets `key` on `conf`; an error names it as `what`, with its value unless a secret.
caf::error set_property(rd_kafka_conf_t* conf, const std::string& key, const std::string& value,
                        const std::string& what) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr)
      == RD_KAFKA_CONF_OK)
    return caf::none;
  return make_error(errc::bad_config,
                    what + "=" + (is_secret_property(key) ? std::string{"(secret)"} : value)
                      + ": " + errstr);
}

} // namespace

expected<conf_ptr> make_conf(const settings& xs) {
  conf_ptr conf{rd_kafka_conf_new()};
  for (auto& [key, value] : xs)
    if (auto err = set_property(conf.get(), key, value, "librdkafka setting " + key))
      return err;
  rd_kafka_conf_set_log_cb(conf.get(), log_cb);
  return conf;
}

bool is_secret_property(const std::string& key) {
  for (auto* word : {"password", "secret", "jaas", "key.pem", "ssl.key", "keystore",
                     "oauthbearer.config", "token"})
    if (key.find(word) != std::string::npos)
      return true;
  return false;
}

settings with_client_properties(settings base, const std::map<std::string, std::string>& props,
                                client_kind kind) {
  auto add = [&](const std::string& prefix) {
    for (auto& [key, value] : props)
      if (key.rfind(prefix, 0) == 0)
        base.emplace_back(key.substr(prefix.size()), value);
  };
  add("kafka.");
  if (kind == client_kind::consumer)
    add("consumer.");
  else if (kind == client_kind::producer)
    add("producer.");
  return base;
}

caf::error check_client_properties(const std::map<std::string, std::string>& props) {
  for (auto& [key, value] : props) {
    std::string property;
    for (auto* prefix : client_prefixes)
      if (key.rfind(prefix, 0) == 0)
        property = key.substr(std::string{prefix}.size());
    if (property.empty())
      return make_error(errc::bad_config, "client property " + key
                                            + ": expected kafka.<property>, consumer.<property> "
                                              "or producer.<property>");
    if (auto i = owned_properties().find(property); i != owned_properties().end())
      return make_error(errc::bad_config,
                        "client property " + key + " is set by Mephisto: " + i->second);
    // A configuration of the kind the prefix reaches takes it as that client would.
    conf_ptr conf{rd_kafka_conf_new()};
    if (auto err = set_property(conf.get(), property, value, "client property " + key))
      return err;
  }
  return caf::none;
}

void auth_watch::install(rd_kafka_conf_t* conf) {
  rd_kafka_conf_set_error_cb(conf, on_error);
  rd_kafka_conf_set_opaque(conf, this);
}

std::string auth_watch::failure(rd_kafka_t* rk) {
  rd_kafka_poll(rk, 0); // serves the error events queued meanwhile
  return failure_;
}

void auth_watch::on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__AUTHENTICATION
      || code == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED)
    static_cast<auth_watch*>(opaque)->failure_ = reason;
  // With an error callback librdkafka no longer logs errors itself.
  log().warn("kafka {}: {}", rd_kafka_name(rk), reason);
}

expected<handle_ptr> make_handle(rd_kafka_type_t type, conf_ptr conf) {
  char errstr[512];
  auto rk = rd_kafka_new(type, conf.get(), errstr, sizeof errstr);
  if (rk == nullptr)
    return make_error(errc::kafka_error, std::string{"cannot create a Kafka client: "} + errstr);
  conf.release(); // rd_kafka_new took it
  return handle_ptr{rk};
}

expected<std::string> parse_broker_url(const std::string& url) {
  const std::string scheme = "kafka://";
  auto bad = [&](const std::string& why) {
    return make_error(errc::bad_broker_url,
                      "broker '" + url + "': " + why
                        + " (expected kafka://host:port[,host:port...] or embedded)");
  };
  if (url.rfind(scheme, 0) != 0)
    return bad("unknown scheme");
  auto rest = url.substr(scheme.size());
  if (rest.empty())
    return bad("no host");
  std::string out;
  size_t pos = 0;
  while (pos <= rest.size()) {
    auto end = rest.find(',', pos);
    if (end == std::string::npos)
      end = rest.size();
    auto hp = rest.substr(pos, end - pos);
    if (hp.rfind("kafka://", 0) == 0)
      hp = hp.substr(scheme.size());
    auto parsed = parse_host_port(hp, "broker URL '" + url + "'");
    if (!parsed)
      return bad("'" + hp + "' is not host:port with a port in 1-65535");
    if (!out.empty())
      out += ',';
    out += hp;
    pos = end + 1;
  }
  return out;
}

} // namespace mephisto::kafka
