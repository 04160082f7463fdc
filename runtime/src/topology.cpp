#include "mephisto/topology.hpp"

#include <algorithm>

#include <librdkafka/rdkafka.h>

#include "mephisto/agent_body.hpp"
#include "mephisto/store.hpp"

namespace mephisto {

store_base::~store_base() = default;

agent_body::~agent_body() = default;

event_reporter::~event_reporter() = default;

bool consumed_record::header(const char* name, std::string_view& out) const noexcept {
  if (headers != nullptr) {
    for (auto i = headers->rbegin(); i != headers->rend(); ++i)
      if (i->first == name) {
        out = i->second;
        return true;
      }
    return false;
  }
  if (message == nullptr)
    return false;
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(message, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return false;
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(hdrs, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return false;
  out = std::string_view{static_cast<const char*>(value), size};
  return true;
}

std::vector<std::string> topology::producer_topics() const {
  std::vector<std::string> out;
  for (auto& t : topics)
    out.push_back(t.kafka_name);
  for (auto& t : tables)
    out.push_back(t.changelog);
  out.push_back(dead_letter_topic());
  return out;
}

std::vector<kafka::topic_spec> topology::topic_specs(int32_t default_partitions) const {
  std::vector<kafka::topic_spec> out;
  for (auto& t : topics)
    out.push_back({t.kafka_name,
                   t.partitions > 0 ? t.partitions : (t.internal ? default_partitions : 0),
                   t.internal, false});
  for (auto& t : tables) {
    auto n = t.partitions;
    if (n == 0 && t.fed_by >= 0) // as its topic: 0 (as found) for an external one
      n = out[static_cast<size_t>(t.fed_by)].partitions;
    out.push_back({t.changelog, n > 0 || t.fed_by >= 0 ? n : default_partitions, true, true});
  }
  out.push_back({dead_letter_topic(), default_partitions, true, false});
  return out;
}

std::string topology::co_partitioning_error(size_t agent, size_t table, int32_t topic_parts,
                                            int32_t table_parts, int32_t fed_parts) const {
  auto& a = agents[agent];
  auto& t = tables[table];
  if (t.fed_by >= 0 && static_cast<size_t>(t.fed_by) != a.topic && fed_parts != topic_parts)
    return "agent " + a.name + " joins topic " + topics[a.topic].kafka_name + " ("
           + std::to_string(topic_parts) + " partitions) with table " + t.name
           + ", fed from topic " + topics[static_cast<size_t>(t.fed_by)].kafka_name + " ("
           + std::to_string(fed_parts)
           + " partitions): the two topics must be co-partitioned (the same partition count)";
  if (table_parts != topic_parts)
    return "agent " + a.name + " uses table " + t.name + " (" + std::to_string(table_parts)
           + " partitions) on topic " + topics[a.topic].kafka_name + " ("
           + std::to_string(topic_parts) + " partitions): they must be co-partitioned";
  return {};
}

std::vector<size_t> topology::agents_of(size_t topic) const {
  std::vector<size_t> out;
  for (size_t i = 0; i < agents.size(); ++i)
    if (agents[i].topic == topic)
      out.push_back(i);
  return out;
}

std::vector<size_t> topology::source_topics() const {
  std::vector<size_t> out;
  for (auto& a : agents)
    if (std::find(out.begin(), out.end(), a.topic) == out.end())
      out.push_back(a.topic);
  std::sort(out.begin(), out.end());
  return out;
}

void topology::rename(const std::string& id) {
  app_id = id;
  for (auto& t : topics)
    t.kafka_name = t.internal ? id + "-" + t.name : t.name;
  for (auto& t : tables)
    t.changelog = id + "-" + t.name + "-changelog";
}

std::string topology::table_shared_by_topics() const {
  for (size_t t = 0; t < tables.size(); ++t) {
    std::vector<size_t> topics_using;
    for (auto& a : agents)
      if (std::find(a.tables.begin(), a.tables.end(), t) != a.tables.end()
          && std::find(topics_using.begin(), topics_using.end(), a.topic) == topics_using.end())
        topics_using.push_back(a.topic);
    if (topics_using.size() > 1)
      return tables[t].name;
  }
  return {};
}

} // namespace mephisto
