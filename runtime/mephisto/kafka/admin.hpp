#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "mephisto/error.hpp"
#include "mephisto/kafka/config.hpp"
#include "mephisto/topology.hpp"

namespace mephisto::kafka {

/// An admin client (a producer handle without topic handles: a topic handle would ask for
/// metadata, and a broker with auto.create.topics.enable would create the topic with its
/// defaults) named `client_id`, with the user's client properties `props`. `auth` (may be
/// null) is installed on it to catch a refused login.
expected<handle_ptr> make_admin_client(const std::string& bootstrap, const std::string& client_id,
                                       const std::map<std::string, std::string>& props,
                                       auth_watch* auth = nullptr);

/// A topic for `create_topics`.
struct new_topic {
  std::string name;
  int32_t partitions = 1;          ///< default 1
  int32_t replication_factor = -1; ///< default -1: the broker's default.replication.factor
  bool compacted = false;          ///< cleanup.policy=compact (default false)
  std::map<std::string, std::string> configs; ///< more topic configs (default none)
};

/// The broker's answer to `create_topics` for one topic.
struct topic_creation {
  std::string name;
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR; ///< TOPIC_ALREADY_EXISTS included
  std::string message;                                    ///< the broker's, for an error
};

/// Sends one CreateTopics request and returns the broker's answer per topic. The request
/// times out after `timeout`; an answer that does not come within a second more is
/// `errc::timeout`; a topic librdkafka refuses to describe, or a request that failed as a
/// whole, is `errc::topic_creation_failed`.
expected<std::vector<topic_creation>> create_topics(rd_kafka_t* rk,
                                                    const std::vector<new_topic>& topics,
                                                    std::chrono::milliseconds timeout);

/// Partition counts of the topics that exist on the cluster `rk` talks to. A broker that
/// does not answer within `timeout` is `errc::broker_unreachable`.
expected<std::map<std::string, int32_t>> list_topics(rd_kafka_t* rk,
                                                     std::chrono::milliseconds timeout);

/// Makes sure every topic in `specs` exists with its partition count: creates the missing
/// ones marked `create` (CreateTopics), fails with a clear error for a missing external
/// topic or a partition count that differs. Fills in `partitions` where it was 0.
caf::error ensure_topics(rd_kafka_t* rk, std::vector<topic_spec>& specs,
                         std::chrono::milliseconds timeout);

/// The effective `max.message.bytes` of each of `topics` (the topic's own, or the broker's
/// default it inherits) in one DescribeConfigs request; -1 where the broker did not say.
/// A request without an answer within `timeout` is `errc::timeout`.
expected<std::vector<int64_t>> max_message_bytes(rd_kafka_t* rk,
                                                 const std::vector<std::string>& topics,
                                                 std::chrono::milliseconds timeout);

} // namespace mephisto::kafka
