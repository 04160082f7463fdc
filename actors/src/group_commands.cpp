// `<app> lag` and what `lag` and `reset` share: the admin client, the source partitions,
// dates. (`reset` itself: reset_command.cpp.)
#include "group_commands.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <iomanip>
#include <ostream>
#include <regex>

#include <boost/json.hpp>

#include "mephisto/kafka/admin.hpp"

namespace mephisto {

namespace detail {

caf::error group_admin::open(const worker_options& opts) {
  auto bootstrap = kafka::parse_broker_url(opts.broker);
  if (!bootstrap)
    return bootstrap.error();
  if (auto err = kafka::check_client_properties(opts.client_properties))
    return err;
  auto made = kafka::make_admin_client(*bootstrap, "mephisto-cli", opts.client_properties, &auth);
  if (!made)
    return made.error();
  rk = std::move(*made);
  return caf::none;
}

caf::error group_admin::explain(caf::error err) {
  if (auto refused = auth.failure(rk.get()); !refused.empty())
    return make_error(errc::authentication_failed,
                      "Kafka authentication failed (" + refused + "); check the "
                      "kafka.sasl.* / kafka.ssl.* client properties");
  return err;
}

std::vector<kafka::partition_key>
partitions_of(const std::vector<std::string>& topics,
              const std::map<std::string, int32_t>& found, std::vector<std::string>& missing) {
  std::vector<kafka::partition_key> out;
  for (auto& topic : topics) {
    auto i = found.find(topic);
    if (i == found.end()) {
      missing.push_back(topic);
      continue;
    }
    for (int32_t p = 0; p < i->second; ++p)
      out.emplace_back(topic, p);
  }
  return out;
}

} // namespace detail

expected<int64_t> parse_datetime(const std::string& text) {
  static const std::regex form{
    R"((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(Z|[+-]\d{2}:\d{2}))"};
  std::smatch m;
  if (!std::regex_match(text, m, form))
    return make_error(errc::bad_config, "'" + text + "' is no date and time like "
                                          "2026-12-01T10:00:00Z (or with .mmm, or +02:00)");
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  auto fields = tm;
  auto seconds = static_cast<int64_t>(timegm(&tm));
  if (tm.tm_mon != fields.tm_mon || tm.tm_mday != fields.tm_mday || fields.tm_hour > 23
      || fields.tm_min > 59 || fields.tm_sec > 60)
    return make_error(errc::bad_config, "'" + text + "' is no valid date and time");
  int64_t millis = 0;
  if (m[7].matched) {
    auto frac = m[7].str();
    frac.resize(3, '0');
    millis = std::stoi(frac);
  }
  auto zone = m[8].str();
  if (zone != "Z") {
    auto offset = (std::stoi(zone.substr(1, 2)) * 60 + std::stoi(zone.substr(4, 2))) * 60;
    seconds -= zone[0] == '+' ? offset : -offset;
  }
  return seconds * 1000 + millis;
}

expected<group_lag> read_lag(const topology& topo, const worker_options& opts) {
  auto timeout = std::chrono::milliseconds{opts.startup_timeout_ms};
  detail::group_admin admin;
  if (auto err = admin.open(opts))
    return err;
  auto rk = admin.rk.get();
  auto found = kafka::list_topics(rk, timeout);
  if (!found) // the first request: where a refused login shows
    return admin.explain(found.error());
  group_lag out;
  out.group = topo.app_id;
  auto desc = kafka::describe_group(rk, out.group, timeout);
  if (!desc)
    return desc.error();
  out.description = *desc;
  std::vector<std::string> sources;
  for (auto i : topo.source_topics())
    sources.push_back(topo.topics[i].kafka_name);
  auto partitions = detail::partitions_of(sources, *found, out.missing_topics);
  auto committed = kafka::committed_offsets(rk, out.group, partitions, timeout);
  if (!committed)
    return committed.error();
  auto marks = kafka::query_watermarks(rk, partitions, timeout);
  if (!marks)
    return marks.error();
  for (auto& key : partitions) {
    partition_lag x;
    x.topic = key.first;
    x.partition = key.second;
    auto& w = (*marks)[key];
    x.low = w.low;
    x.end = w.high;
    if (auto i = committed->find(key); i != committed->end())
      x.committed = i->second;
    // As kafka-consumer-groups.sh counts it; without a commit the group starts at the
    // earliest offset kept.
    x.lag = x.end - x.committed.value_or(x.low);
    out.total += x.lag;
    out.partitions.push_back(std::move(x));
  }
  return out;
}

void print_lag(const group_lag& lag, bool json, std::ostream& out) {
  if (json) {
    boost::json::array parts;
    for (auto& p : lag.partitions) {
      boost::json::value committed = nullptr;
      if (p.committed)
        committed = *p.committed;
      parts.push_back({{"topic", p.topic}, {"partition", p.partition},
                       {"committed", committed}, {"low", p.low}, {"end", p.end},
                       {"lag", p.lag}});
    }
    boost::json::array missing;
    for (auto& t : lag.missing_topics)
      missing.emplace_back(t);
    boost::json::object doc{{"group", lag.group},
                            {"state", lag.description.state},
                            {"members", lag.description.members},
                            {"partitions", std::move(parts)},
                            {"missing_topics", std::move(missing)},
                            {"total_lag", lag.total}};
    out << boost::json::serialize(doc) << '\n';
    return;
  }
  out << "consumer group " << lag.group << ": " << lag.description.state << ", "
      << lag.description.members << (lag.description.members == 1 ? " member" : " members")
      << '\n';
  size_t width = 5;
  for (auto& p : lag.partitions)
    width = std::max(width, p.topic.size());
  out << std::left << std::setw(static_cast<int>(width)) << "topic" << std::right
      << "  partition   committed         end         lag\n";
  for (auto& p : lag.partitions) {
    out << std::left << std::setw(static_cast<int>(width)) << p.topic << std::right
        << std::setw(11) << p.partition << std::setw(12)
        << (p.committed ? std::to_string(*p.committed) : std::string{"-"}) << std::setw(12)
        << p.end << std::setw(12) << p.lag << '\n';
  }
  for (auto& t : lag.missing_topics)
    out << t << ": not on the broker\n";
  out << "total lag " << lag.total << '\n';
}

} // namespace mephisto
