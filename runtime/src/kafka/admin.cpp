#include "mephisto/kafka/admin.hpp"

#include <cstdlib>
#include <string_view>
#include <thread>

#include "mephisto/log.hpp"

namespace mephisto::kafka {

using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

expected<std::map<std::string, int32_t>> list_topics(rd_kafka_t* rk, milliseconds timeout) {
  const rd_kafka_metadata_t* md = nullptr;
  auto err = rd_kafka_metadata(rk, 1, nullptr, &md, static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return make_error(errc::broker_unreachable,
                      "no answer from the Kafka cluster within "
                        + std::to_string(timeout.count()) + " ms ("
                        + rd_kafka_err2str(err) + "); is the broker address right and up?");
  std::map<std::string, int32_t> out;
  for (int i = 0; i < md->topic_cnt; ++i) {
    auto& t = md->topics[i];
    if (t.err == RD_KAFKA_RESP_ERR_NO_ERROR)
      out.emplace(t.topic, t.partition_cnt);
  }
  rd_kafka_metadata_destroy(md);
  return out;
}

expected<std::vector<topic_creation>> create_topics(rd_kafka_t* rk,
                                                    const std::vector<new_topic>& topics,
                                                    milliseconds timeout) {
  char errstr[512];
  std::vector<rd_kafka_NewTopic_t*> news;
  auto destroy_news = [&news] { rd_kafka_NewTopic_destroy_array(news.data(), news.size()); };
  for (auto& topic : topics) {
    auto nt = rd_kafka_NewTopic_new(topic.name.c_str(), topic.partitions,
                                    topic.replication_factor, errstr, sizeof errstr);
    if (nt == nullptr) {
      destroy_news();
      return make_error(errc::topic_creation_failed, topic.name + ": " + errstr);
    }
    if (topic.compacted)
      rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    for (auto& [name, value] : topic.configs)
      rd_kafka_NewTopic_set_config(nt, name.c_str(), value.c_str());
    news.push_back(nt);
  }
  queue_ptr q{rd_kafka_queue_new(rk)};
  auto opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(opts, static_cast<int>(timeout.count()),
                                            errstr, sizeof errstr);
  rd_kafka_CreateTopics(rk, news.data(), news.size(), opts, q.get());
  rd_kafka_AdminOptions_destroy(opts);
  destroy_news();
  auto ev = rd_kafka_queue_poll(q.get(), static_cast<int>(timeout.count()) + 1000);
  if (ev == nullptr)
    return make_error(errc::timeout, "CreateTopics got no answer within "
                                       + std::to_string(timeout.count()) + " ms");
  expected<std::vector<topic_creation>> result{std::vector<topic_creation>{}};
  if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result = make_error(errc::topic_creation_failed,
                        std::string{"CreateTopics: "} + rd_kafka_event_error_string(ev));
  } else if (auto res = rd_kafka_event_CreateTopics_result(ev)) {
    size_t n = 0;
    auto answers = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; ++i) {
      auto message = rd_kafka_topic_result_error_string(answers[i]);
      result->push_back({rd_kafka_topic_result_name(answers[i]),
                         rd_kafka_topic_result_error(answers[i]),
                         message != nullptr ? message : ""});
    }
  }
  rd_kafka_event_destroy(ev);
  return result;
}

namespace {

/// Creates the `missing` topics of an app; one that exists by now is fine.
caf::error create_missing(rd_kafka_t* rk, const std::vector<topic_spec*>& missing,
                          milliseconds timeout) {
  std::vector<new_topic> topics;
  for (auto* spec : missing)
    topics.push_back({.name = spec->name, .partitions = spec->partitions,
                      .compacted = spec->compacted, .configs = {}});
  auto answers = create_topics(rk, topics, timeout);
  if (!answers && is(answers.error(), errc::timeout))
    return make_error(errc::topic_creation_failed,
                      "CreateTopics got no answer within " + std::to_string(timeout.count())
                        + " ms (librdkafka's mock broker cannot create topics: start the "
                          "app's own `broker` command, which creates them)");
  if (!answers)
    return answers.error();
  for (auto& answer : *answers) {
    if (answer.error != RD_KAFKA_RESP_ERR_NO_ERROR
        && answer.error != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
      return make_error(errc::topic_creation_failed, answer.name + ": " + answer.message);
    log().info("created topic {}", answer.name);
  }
  return caf::none;
}

} // namespace

caf::error ensure_topics(rd_kafka_t* rk, std::vector<topic_spec>& specs,
                         milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  auto existing = list_topics(rk, timeout);
  if (!existing)
    return existing.error();
  // A topic created a moment ago may not be in every broker's metadata yet: look again for
  // a few seconds before calling an external topic missing.
  auto grace = clock_type::now() + std::min(timeout, milliseconds{3000});
  auto external_missing = [&] {
    for (auto& spec : specs)
      if (!spec.create && existing->count(spec.name) == 0)
        return true;
    return false;
  };
  while (external_missing() && clock_type::now() < grace) {
    std::this_thread::sleep_for(milliseconds{200});
    auto again = list_topics(rk, timeout);
    if (!again)
      return again.error();
    existing = std::move(again);
  }
  std::vector<topic_spec*> missing;
  for (auto& spec : specs) {
    auto i = existing->find(spec.name);
    if (i == existing->end()) {
      if (!spec.create)
        return make_error(errc::topic_missing,
                          "topic '" + spec.name
                            + "' does not exist; Mephisto never creates source or other "
                              "external topics, only internal ones and changelogs: create "
                              "it first (e.g. kafka-topics.sh --create)");
      // Once per name: librdkafka 2.0.2 crashes reading a CreateTopics answer for a
      // request that named a topic twice.
      bool listed = false;
      for (auto* m : missing)
        listed = listed || m->name == spec.name;
      if (!listed)
        missing.push_back(&spec);
    } else if (spec.partitions == 0) {
      spec.partitions = i->second;
    } else if (spec.partitions != i->second) {
      return make_error(errc::topic_mismatch,
                        "topic '" + spec.name + "' has " + std::to_string(i->second)
                          + " partitions, the app declares " + std::to_string(spec.partitions));
    }
  }
  if (missing.empty())
    return caf::none;
  if (auto err = create_missing(rk, missing, timeout))
    return err;
  // Wait until the metadata shows the new topics with their partitions.
  while (clock_type::now() < deadline) {
    auto now_there = list_topics(rk, timeout);
    if (!now_there)
      return now_there.error();
    bool all = true;
    for (auto* spec : missing) {
      auto i = now_there->find(spec->name);
      all = all && i != now_there->end() && i->second == spec->partitions;
    }
    if (all)
      return caf::none;
    std::this_thread::sleep_for(milliseconds{100});
  }
  return make_error(errc::topic_creation_failed,
                    "created topics did not show up in the metadata in time");
}

expected<std::vector<int64_t>> max_message_bytes(rd_kafka_t* rk,
                                                 const std::vector<std::string>& topics,
                                                 milliseconds timeout) {
  std::vector<int64_t> out(topics.size(), -1);
  if (topics.empty())
    return out;
  std::vector<rd_kafka_ConfigResource_t*> resources;
  for (auto& name : topics)
    resources.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str()));
  queue_ptr q{rd_kafka_queue_new(rk)};
  char errstr[512];
  auto opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
  rd_kafka_AdminOptions_set_request_timeout(opts, static_cast<int>(timeout.count()),
                                            errstr, sizeof errstr);
  rd_kafka_DescribeConfigs(rk, resources.data(), resources.size(), opts, q.get());
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_ConfigResource_destroy_array(resources.data(), resources.size());
  auto ev = rd_kafka_queue_poll(q.get(), static_cast<int>(timeout.count()) + 1000);
  if (ev == nullptr)
    return make_error(errc::timeout, "DescribeConfigs got no answer within "
                                       + std::to_string(timeout.count()) + " ms");
  if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    auto why = std::string{"DescribeConfigs failed: "} + rd_kafka_event_error_string(ev);
    rd_kafka_event_destroy(ev);
    return make_error(errc::kafka_error, std::move(why));
  }
  size_t n = 0;
  auto rs = rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev),
                                                      &n);
  for (size_t i = 0; i < n; ++i) {
    std::string name = rd_kafka_ConfigResource_name(rs[i]);
    size_t m = 0;
    auto entries = rd_kafka_ConfigResource_configs(rs[i], &m);
    for (size_t j = 0; j < m; ++j) {
      auto value = rd_kafka_ConfigEntry_value(entries[j]);
      if (value == nullptr || std::string_view{rd_kafka_ConfigEntry_name(entries[j])}
                                != "max.message.bytes")
        continue;
      for (size_t t = 0; t < topics.size(); ++t)
        if (topics[t] == name)
          out[t] = std::strtoll(value, nullptr, 10);
    }
  }
  rd_kafka_event_destroy(ev);
  return out;
}

expected<handle_ptr> make_admin_client(const std::string& bootstrap, const std::string& client_id,
                                       const std::map<std::string, std::string>& props,
                                       auth_watch* auth) {
  auto conf = make_conf(with_client_properties(
    {{"bootstrap.servers", bootstrap}, {"client.id", client_id}}, props, client_kind::admin));
  if (!conf)
    return conf.error();
  if (auth != nullptr)
    auth->install(conf->get());
  return make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
}

} // namespace mephisto::kafka
