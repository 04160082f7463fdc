#pragma once

#include <atomic>
#include <cstdint>

#include <librdkafka/rdkafka.h>

namespace mephisto::kafka {

/// Counts the outstanding deliveries of one batch of produced records and fires
/// `on_complete` once, when the last is acknowledged (or failed).
///
/// Created by an agent per batch with one "guard" count, so it cannot complete while the
/// agent is still producing. Each produce adds one; each delivery report (on the
/// producer's poll thread) removes one; the agent drops the guard with `release()` when
/// it has produced everything. Whoever brings the count to zero runs `on_complete` and
/// deletes the object. Thread-safe by atomics; `on_complete` runs on that thread.
class delivery_batch {
public:
  virtual ~delivery_batch() = default;

  void add(int64_t n) noexcept { pending_.fetch_add(n, std::memory_order_relaxed); }

  /// Sees every record of the batch acknowledged, before its `release` (on the producer's
  /// poll thread, one record at a time): its topic's name, partition and offset.
  virtual void on_record(const char* topic, int32_t partition, int64_t offset) noexcept {
    (void) topic;
    (void) partition;
    (void) offset;
  }

  /// One record acknowledged (`ok`) or failed for good.
  void release(bool ok = true) noexcept {
    if (!ok)
      failed_.store(true, std::memory_order_relaxed);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      on_complete(!failed_.load(std::memory_order_relaxed));
      delete this;
    }
  }

protected:
  /// Runs once; `ok` is false when any record of the batch failed.
  virtual void on_complete(bool ok) noexcept = 0;

private:
  std::atomic<int64_t> pending_{1};
  std::atomic<bool> failed_{false};
};

} // namespace mephisto::kafka
