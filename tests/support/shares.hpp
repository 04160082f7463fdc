#pragma once

// How the instances of a harness share the partitions of their consumer group, read from
// typed sources: each instance's `/metrics` (mephisto_ready, mephisto_assigned_partitions,
// and the per-partition series of mephisto_consumer_lag). No worker names the partitions
// it holds anywhere else but in its log.

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mephisto/testing.hpp"

namespace testkit {

/// Waits until every instance of `instances` runs, is ready (mephisto_ready 1) and holds
/// a share (mephisto_assigned_partitions at least 1), the shares adding up to `partitions`
/// (in a settled group: all of them, none twice). Notes the split on `h`'s timeline; false
/// when that does not happen within `timeout` or an instance exits.
bool wait_for_split(mephisto::testing::harness& h, const std::vector<int>& instances,
                    size_t partitions, std::chrono::milliseconds timeout);

/// Waits until the partitions of `topic` the instances process cover all its `partitions`,
/// none processed twice; returns them per instance, nothing after `timeout`. An instance
/// processes those its mephisto_consumer_lag has a series for: published every second for
/// the assigned partitions it fetched records of (so not yet for an empty one).
std::optional<std::vector<std::set<int32_t>>>
wait_for_processed_split(const mephisto::testing::harness& h, const std::vector<int>& instances,
                         const std::string& topic, size_t partitions,
                         std::chrono::milliseconds timeout);

} // namespace testkit
