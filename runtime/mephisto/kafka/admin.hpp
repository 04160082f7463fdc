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


/// Partition counts of the topics that exist on the cluster `rk` talks to. A broker that
/// does not answer within `timeout` is `errc::broker_unreachable`.
expected<std::map<std::string, int32_t>> list_topics(rd_kafka_t* rk,
                                                     std::chrono::milliseconds timeout);

/// Makes sure every topic in `specs` exists with its partition count: creates the missing
/// ones marked `create` (CreateTopics), fails with a clear error for a missing external
/// topic or a partition count that differs. Fills in `partitions` where it was 0.
caf::error ensure_topics(rd_kafka_t* rk, std::vector<topic_spec>& specs,
                         std::chrono::milliseconds timeout);

} // namespace mephisto::kafka
