#pragma once

// Scenarios run against both the embedded and the real broker: the same steps and
// assertions, with colors workers started by the caller's harness (its broker, its app id,
// its flags).

#include <cstdint>
#include <string>

#include "testkit.hpp"

namespace testkit {

/// Feeds `words` words in chunks while a worker runs, stops it with SIGTERM once
/// `stop_after` outputs arrived (mid-stream), starts a second worker, and checks that the
/// counts on `output` are exact and that the second worker restored the table.
void restart_mid_stream(const std::string& bootstrap, mephisto::testing::harness& h,
                        size_t words, uint32_t seed, size_t stop_after);

/// Two workers in one group split the partitions; the combined result is exact and both
/// did part of the work.
void two_workers_split(const std::string& bootstrap, mephisto::testing::harness& h,
                       size_t words, uint32_t seed);

} // namespace testkit
