#include "mephisto/kafka/config.hpp"

#include "mephisto/host_port.hpp"

#include <cctype>

#include "mephisto/log.hpp"

namespace mephisto::kafka {

namespace {

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

} // namespace

expected<conf_ptr> make_conf(const settings& xs) {
  conf_ptr conf{rd_kafka_conf_new()};
  char errstr[512];
  for (auto& [key, value] : xs) {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), errstr, sizeof errstr)
        != RD_KAFKA_CONF_OK)
      return make_error(errc::bad_config,
                        "librdkafka setting " + key + "=" + value + ": " + errstr);
  }
  rd_kafka_conf_set_log_cb(conf.get(), log_cb);
  return conf;
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
