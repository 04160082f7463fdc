#pragma once

// Lifecycle events: what happens to a worker's partitions, as messages to the user's
// actors. Subscribe with `worker::subscribe_lifecycle(actor)`.

#include <cstdint>
#include <string>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/error.hpp>

namespace mephisto {

/// One change of a worker's partitions. A subscriber handles `lifecycle_event&` (a plain
/// message, not a request). Events are few (per partition and rebalance), so they need no
/// credit; a subscriber that never reads them keeps that many in its mailbox.
struct lifecycle_event {
  enum class kind : uint8_t {
    assigned,  ///< `topic` [`partition`] was assigned to this worker
    recovered, ///< `table` [`partition`] is recovered from its changelog and serves
    revoked,   ///< `topic` [`partition`] was revoked, its offsets committed
    failed,    ///< `topic` [`partition`] failed (`reason`): it restarts or rewinds
    stopped,   ///< the worker stopped: normally (`reason` empty) or with `reason`
  };

  kind what = kind::assigned;
  std::string topic;     ///< the topic's name on the broker (assigned, revoked, failed)
  std::string table;     ///< the table's name (recovered)
  int32_t partition = -1;
  caf::error reason;     ///< failed, stopped

  /// "assigned", "recovered", ...
  static const char* name(kind k) noexcept {
    switch (k) {
      case kind::assigned: return "assigned";
      case kind::recovered: return "recovered";
      case kind::revoked: return "revoked";
      case kind::failed: return "failed";
      case kind::stopped: return "stopped";
    }
    return "?";
  }
};

} // namespace mephisto

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mephisto::lifecycle_event)
