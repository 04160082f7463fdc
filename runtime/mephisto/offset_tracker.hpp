#pragma once

#include <cstdint>
#include <cstddef>
#include <deque>

namespace mephisto {

/// Which offsets of one source partition may be committed, given batches whose outputs
/// are delivered out of order.
///
/// A batch is opened (in offset order) when its outputs go to the producer and completed
/// when the last of its outputs is acknowledged. The committable offset is one past the
/// last event of the longest prefix of completed batches, so an offset is never committed
/// while an earlier event's outputs are still in flight (Faust #606/#682).
///
/// Owned by one agent actor; not thread-safe.
class offset_tracker {
public:
  /// Opens a batch whose last event has offset `next_offset - 1`; returns its sequence
  /// number. `next_offset` must grow from call to call.
  uint64_t open(int64_t next_offset);

  /// Completes batch `seq`. Returns true when `committable()` moved.
  bool complete(uint64_t seq);

  /// The next offset to read after a restart: everything before it is done. -1: nothing
  /// completed yet.
  int64_t committable() const noexcept { return committable_; }

  /// True when no batch is open.
  bool idle() const noexcept { return open_.empty(); }

  /// Number of open batches.
  size_t open_batches() const noexcept { return open_.size(); }

private:
  struct batch {
    int64_t next_offset;
    bool done;
  };

  std::deque<batch> open_;
  uint64_t first_seq_ = 0;
  int64_t committable_ = -1;
};

} // namespace mephisto
