#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace mephisto {

/// Durations counted in fixed buckets (Prometheus style: a bucket counts what is at most
/// its bound; the last one, +Inf, everything).
///
/// Shared by its writers and readers: every count is a relaxed atomic. A writer on a hot
/// path tallies a batch in a `tally` of its own (no atomics, no allocation) and adds it
/// with one `add`; one-off durations go through `observe`. A reader's `read` may see a
/// batch half added (counts and sum are separate atomics); Prometheus tolerates that.
class duration_histogram {
public:
  /// Upper bounds of the buckets, in seconds, +Inf left out.
  static constexpr std::array<double, 16> bounds_seconds = {
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1,
    0.2,    0.5,   1,     2,     5,     10,   30,   60};
  static constexpr size_t bucket_count = bounds_seconds.size() + 1;

  /// The bucket of `d`.
  static size_t bucket_of(std::chrono::nanoseconds d) noexcept {
    auto ns = d.count();
    size_t i = 0;
    while (i < bounds_ns.size() && ns > bounds_ns[i])
      ++i;
    return i;
  }

  /// Durations counted by one writer before they are added to the shared histogram.
  struct tally {
    std::array<uint64_t, bucket_count> counts{};
    int64_t sum_ns = 0;
    uint64_t total = 0;

    void observe(std::chrono::nanoseconds d) noexcept {
      if (d.count() < 0)
        d = std::chrono::nanoseconds{0};
      ++counts[bucket_of(d)];
      sum_ns += d.count();
      ++total;
    }
  };

  /// What a reader gets: counts per bucket (not cumulative), their sum and total.
  struct snapshot {
    std::array<uint64_t, bucket_count> counts{};
    double sum_seconds = 0;
    uint64_t total = 0;
  };

  void observe(std::chrono::nanoseconds d) noexcept {
    if (d.count() < 0)
      d = std::chrono::nanoseconds{0};
    counts_[bucket_of(d)].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(d.count(), std::memory_order_relaxed);
  }

  /// Adds `t` and clears it for the writer's next batch.
  void add(tally& t) noexcept {
    if (t.total == 0)
      return;
    for (size_t i = 0; i < bucket_count; ++i)
      if (t.counts[i] != 0)
        counts_[i].fetch_add(t.counts[i], std::memory_order_relaxed);
    sum_ns_.fetch_add(t.sum_ns, std::memory_order_relaxed);
    t = tally{};
  }

  snapshot read() const noexcept {
    snapshot s;
    for (size_t i = 0; i < bucket_count; ++i) {
      s.counts[i] = counts_[i].load(std::memory_order_relaxed);
      s.total += s.counts[i];
    }
    s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return s;
  }

private:
  static constexpr std::array<int64_t, bounds_seconds.size()> bounds_ns = [] {
    std::array<int64_t, bounds_seconds.size()> xs{};
    for (size_t i = 0; i < xs.size(); ++i)
      xs[i] = static_cast<int64_t>(bounds_seconds[i] * 1e9);
    return xs;
  }();

  std::array<std::atomic<uint64_t>, bucket_count> counts_{};
  std::atomic<int64_t> sum_ns_{0};
};

} // namespace mephisto
