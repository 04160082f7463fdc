#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/typed_event_based_actor.hpp>

#include "mephisto/actors/protocols.hpp"
#include "driver_topics.hpp"

namespace mephisto::testing::detail {

/// What the driver and one partition's feed share (both on the driver's thread): where
/// the feed stands in its partition's log.
struct feed_cursor {
  const partition_log* log = nullptr;
  std::string where;          ///< "topic [p]"
  size_t next = 0;            ///< index of the next record to hand out
  bool at_end = true;         ///< stopped because it had handed out everything
};

/// State of a feed: the driver's stand-in for a partition's source. It hands the
/// partition's log to the topic's agents in batches of at most `batch_size` records, at
/// most `max_in_flight` unacknowledged batches per agent, as the source does with a
/// partition queue; the agents cannot tell the difference. Woken by the driver when its
/// log grew while it stood at the end.
struct feed_state {
  static inline const char* name = "mephisto.testing.feed";
  feed_cursor* cursor = nullptr;
  std::vector<agent_actor> agents;
  std::vector<int32_t> in_flight;
  int32_t max_in_flight = 4;
  size_t batch_size = 1000;
};

/// Spawns as `spawn(feed, cursor, agents, batch_size, max_in_flight)`.
source_actor::behavior_type feed(source_actor::stateful_pointer<feed_state> self,
                                 feed_cursor* cursor, std::vector<agent_actor> agents,
                                 int32_t batch_size, int32_t max_in_flight);

/// Where the driver's stand-ins for the group consumer and the worker actor write what the
/// agents told them (the driver reads it between runs).
struct driver_record_book {
  /// (topic, partition) -> the committable offset each agent slot reported (-1: none yet)
  std::map<std::pair<uint32_t, int32_t>, std::vector<int64_t>> progress;
  std::vector<lifecycle_event> events;
  std::vector<std::pair<std::string, std::string>> replies;   ///< (asker id, value)
};

/// The group consumer's stand-in: notes each partition's committable offset (the lowest
/// over the partition's agents, as the consumer commits).
group_consumer_actor::behavior_type progress_book(group_consumer_actor::pointer self,
                                                  driver_record_book* book,
                                                  std::vector<size_t> agents_per_topic);

/// The worker actor's stand-in: notes lifecycle events and replies.
worker_actor::behavior_type runner_book(worker_actor::pointer self, driver_record_book* book);

} // namespace mephisto::testing::detail
