#pragma once

// Not part of the documented API: the librdkafka client factory of mephisto::testing's
// Kafka access (actors/src/testing/kafka_io.cpp), shared with the project's own suite for
// the broker queries the kit does not offer (watermarks, topic configs). Needs librdkafka's
// header; nothing public includes this file.

#include <string>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

namespace mephisto::testing::detail {

/// A librdkafka client of `type` on `bootstrap` with the `extra` properties; throws
/// std::runtime_error with librdkafka's reason when it cannot be made. The caller
/// destroys it (rd_kafka_destroy).
rd_kafka_t* make_client(rd_kafka_type_t type, const std::string& bootstrap,
                        std::vector<std::pair<std::string, std::string>> extra = {});

} // namespace mephisto::testing::detail
