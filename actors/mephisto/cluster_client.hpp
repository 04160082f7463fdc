#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "mephisto/error.hpp"
#include "mephisto/options.hpp"

namespace mephisto {

/// Asks the worker whose cluster actor listens at `peer` (host:port) for `key` (encoded)
/// in `table`, with the cluster secret and TLS settings of `opts`; that worker routes the
/// lookup to the instance holding the key's partition.
/// Returns the encoded value, nullopt when the key is absent, or an error (`refused` for a
/// wrong secret, `not_ready`, `not_owned`, `timeout`, unreachable peer). Blocks: for
/// command lines and tests, not for actors.
expected<std::optional<std::string>>
remote_table_get(const std::string& peer, const worker_options& opts, const std::string& table,
                 const std::string& key, std::chrono::milliseconds timeout);

} // namespace mephisto
