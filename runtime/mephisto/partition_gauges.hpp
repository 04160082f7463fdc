#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace mephisto {

/// One number per topic partition (a consumer's lag, the records a restore has left),
/// set by whoever owns the partition and read by anyone.
///
/// Thread-safe: one mutex. Writers set a partition's value at most a few times per
/// second (never per event), so the lock is never contended on a hot path.
class partition_gauges {
public:
  struct entry {
    std::string topic;
    int32_t partition = 0;
    int64_t value = 0;
  };

  void set(const std::string& topic, int32_t partition, int64_t value) {
    std::lock_guard<std::mutex> guard{mtx_};
    values_[{topic, partition}] = value;
  }

  void erase(const std::string& topic, int32_t partition) {
    std::lock_guard<std::mutex> guard{mtx_};
    values_.erase({topic, partition});
  }

  /// Keeps only the partitions `keep` returns true for.
  template <class Predicate>
  void retain(Predicate keep) {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto i = values_.begin(); i != values_.end();)
      i = keep(i->first.first, i->first.second) ? std::next(i) : values_.erase(i);
  }

  /// Every partition's value, ordered by topic and partition.
  std::vector<entry> read() const {
    std::lock_guard<std::mutex> guard{mtx_};
    std::vector<entry> out;
    out.reserve(values_.size());
    for (auto& [key, value] : values_)
      out.push_back({key.first, key.second, value});
    return out;
  }

  /// The sum of every partition's value.
  int64_t total() const {
    std::lock_guard<std::mutex> guard{mtx_};
    int64_t sum = 0;
    for (auto& kv : values_)
      sum += kv.second;
    return sum;
  }

private:
  mutable std::mutex mtx_;
  std::map<std::pair<std::string, int32_t>, int64_t> values_;
};

} // namespace mephisto
