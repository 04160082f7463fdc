#pragma once

// mephisto-bench --actor-api (actor_api_bench.cpp): topic writers, subscriptions and table
// readers against raw librdkafka and worker::table_get.

#include <cstddef>
#include <string>

namespace bench {

/// `url`: "embedded" or kafka://host:port. Prints one line per round and the lookups.
int actor_api_bench(const std::string& url, size_t records, int rounds, size_t window,
                    int threads);

} // namespace bench
