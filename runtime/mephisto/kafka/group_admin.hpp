#pragma once

// The consumer group's side of the admin API, for `<app> lag` and `<app> reset`: the group's
// state and members, its committed offsets, partition watermarks, offsets by time, and the
// changes reset makes (delete topics, delete the group, commit offsets). Each call is one
// blocking request on the caller's thread through an admin client (`make_admin_client`).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "mephisto/error.hpp"

namespace mephisto::kafka {

/// A partition of a topic, by Kafka name; ordered by topic, then partition.
using partition_key = std::pair<std::string, int32_t>;

/// What DescribeConsumerGroups says about a group.
struct group_description {
  std::string state = "Unknown"; ///< Stable, Empty, Dead, PreparingRebalance, ... (Unknown)
  size_t members = 0;            ///< live members (0 for an Empty, Dead or unknown group)
  bool exists = true;            ///< false: the broker knows no such group
};

/// The state and member count of consumer group `group`. A group the broker does not know
/// is `exists = false`, state Dead; a request without answer within `timeout` an error.
expected<group_description> describe_group(rd_kafka_t* rk, const std::string& group,
                                           std::chrono::milliseconds timeout);

/// The offsets `group` committed on `partitions` (ListConsumerGroupOffsets); a partition
/// without a committed offset is missing from the result.
expected<std::map<partition_key, int64_t>>
committed_offsets(rd_kafka_t* rk, const std::string& group,
                  const std::vector<partition_key>& partitions,
                  std::chrono::milliseconds timeout);

/// The low and high watermark (first offset kept, end offset) of a partition.
struct watermarks {
  int64_t low = 0;
  int64_t high = 0;
};

/// The watermarks of `partitions`, one ListOffsets request each.
expected<std::map<partition_key, watermarks>>
query_watermarks(rd_kafka_t* rk, const std::vector<partition_key>& partitions,
                 std::chrono::milliseconds timeout);

/// The first offset of each partition whose record timestamp is at or after `ms` (Unix
/// milliseconds); nothing for a partition with no such record.
expected<std::map<partition_key, std::optional<int64_t>>>
offsets_for_time(rd_kafka_t* rk, const std::vector<partition_key>& partitions, int64_t ms,
                 std::chrono::milliseconds timeout);

/// Deletes `topics` (DeleteTopics) and waits until the metadata no longer lists them. A topic
/// that is already gone is fine.
caf::error delete_topics(rd_kafka_t* rk, const std::vector<std::string>& topics,
                         std::chrono::milliseconds timeout);

/// Deletes consumer group `group` with all its committed offsets (DeleteGroups). The broker
/// refuses a group with live members (`errc::refused`); an unknown group is fine.
caf::error delete_group(rd_kafka_t* rk, const std::string& group,
                        std::chrono::milliseconds timeout);

/// Commits `offsets` for `group` (AlterConsumerGroupOffsets), which creates the group if it
/// does not exist. The broker refuses it while the group has live members.
caf::error alter_group_offsets(rd_kafka_t* rk, const std::string& group,
                               const std::map<partition_key, int64_t>& offsets,
                               std::chrono::milliseconds timeout);

} // namespace mephisto::kafka
