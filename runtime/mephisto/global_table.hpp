#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>

#include <boost/unordered/unordered_flat_map.hpp>
#include <pthread.h>

#include "mephisto/codec.hpp"
#include "mephisto/context.hpp"

namespace mephisto {

namespace detail {

/// A readers-writer lock that lets a waiting writer in before new readers (glibc's
/// `PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP`): agents reading a global table on every
/// event must not starve its feed, as `std::shared_mutex` (readers first) can. Meets
/// `SharedMutex` for `std::unique_lock` and `std::shared_lock`; not recursive.
class writer_first_lock {
public:
  writer_first_lock() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&lock_, &attr);
    pthread_rwlockattr_destroy(&attr);
  }
  writer_first_lock(const writer_first_lock&) = delete;
  writer_first_lock& operator=(const writer_first_lock&) = delete;
  ~writer_first_lock() { pthread_rwlock_destroy(&lock_); }

  void lock() { pthread_rwlock_wrlock(&lock_); }
  bool try_lock() { return pthread_rwlock_trywrlock(&lock_) == 0; }
  void unlock() { pthread_rwlock_unlock(&lock_); }
  void lock_shared() { pthread_rwlock_rdlock(&lock_); }
  bool try_lock_shared() { return pthread_rwlock_tryrdlock(&lock_) == 0; }
  void unlock_shared() { pthread_rwlock_unlock(&lock_); }

private:
  pthread_rwlock_t lock_;
};

} // namespace detail

/// A global table's contents in one worker: every partition of its source topic, shared
/// by all the worker's agents (Kafka Streams' GlobalKTable).
///
/// Owned by the worker (through its environment); written by one thread, the worker's
/// global-table loader and then its tailer, in batches under the exclusive lock
/// (`writes()`); read by any number of agent threads at once under the shared lock. A
/// value is copied out under the lock, so a reader never sees a half-written one.
class global_store_base {
public:
  virtual ~global_store_base() = default;

  /// The exclusive lock to hold around a batch of `put`s.
  std::unique_lock<detail::writer_first_lock> writes() { return std::unique_lock{mutex_}; }

  /// Applies one record of the source topic, the caller holding `writes()`: the last value
  /// per key wins, a null value (a tombstone) deletes the key. False when the codecs
  /// refuse it (`why` says why): the record is skipped.
  virtual bool put(std::string_view key, std::optional<std::string_view> value,
                   std::string& why) = 0;

  /// Number of keys.
  virtual size_t size() const = 0;

  /// Looks up an encoded key; on a hit writes the encoded value (for `/tables`).
  virtual bool lookup(std::string_view key, std::string& value, std::string& why) const = 0;

  /// Records the source topic's codecs refused (skipped, logged).
  uint64_t skipped() const noexcept { return skipped_.load(std::memory_order_relaxed); }

  void count_skipped() noexcept { skipped_.fetch_add(1, std::memory_order_relaxed); }

protected:
  mutable detail::writer_first_lock mutex_;

private:
  std::atomic<uint64_t> skipped_{0};
};

/// The typed store of a global table: an open-addressing hash map (values inline, one or
/// two cache misses a lookup; a node-based map took several on a large table) behind the
/// shared lock.
template <class K, class V>
class global_store final : public global_store_base {
public:
  bool put(std::string_view key, std::optional<std::string_view> value,
           std::string& why) override {
    if (!codec<K>::decode(key, key_, why))
      return false;
    if (!value) {
      map_.erase(key_);
      return true;
    }
    if (!codec<V>::decode(*value, value_, why))
      return false;
    map_.insert_or_assign(key_, value_);
    return true;
  }

  size_t size() const override {
    std::shared_lock lock{mutex_};
    return map_.size();
  }

  bool lookup(std::string_view key, std::string& value, std::string& why) const override {
    why.clear();
    K decoded{};
    if (!codec<K>::decode(key, decoded, why))
      return false;
    std::shared_lock lock{mutex_};
    auto it = map_.find(decoded);
    if (it == map_.end())
      return false;
    value.clear();
    codec<V>::encode(it->second, value);
    return true;
  }

  /// A copy of the value for `key`, or nullopt.
  std::optional<V> get(const K& key) const {
    std::shared_lock lock{mutex_};
    auto it = map_.find(key);
    if (it == map_.end())
      return std::nullopt;
    return it->second;
  }

  /// Calls `fn(const V&)` with the value for `key` under the shared lock (no copy); false
  /// when absent. `fn` must not read a global table itself.
  template <class F>
  bool visit(const K& key, F&& fn) const {
    std::shared_lock lock{mutex_};
    auto it = map_.find(key);
    if (it == map_.end())
      return false;
    fn(it->second);
    return true;
  }

private:
  boost::unordered_flat_map<K, V, std::hash<K>> map_;
  K key_{};   ///< decode buffers of the writer
  V value_{};
};

/// A typed handle to a declared global table (`app::global_table`). Cheap to copy.
template <class K, class V>
class global_table {
public:
  using key_type = K;
  using value_type = V;

  global_table(uint32_t index, std::string name) : index_(index), name_(std::move(name)) {}

  uint32_t index() const noexcept { return index_; }
  const std::string& name() const noexcept { return name_; }

private:
  uint32_t index_;
  std::string name_;
};

/// What an agent reads of a global table (`ctx[table]`): every key of every partition, as
/// loaded so far. Read-only: the table follows its source topic, not the agents.
template <class K, class V>
class global_view {
public:
  explicit global_view(const global_store<K, V>* store) : store_(store) {}

  /// A copy of the value for `key`, or nullopt.
  std::optional<V> get(const K& key) const { return store_->get(key); }

  /// The value for `key`, or `fallback`.
  V get_or(const K& key, V fallback) const {
    auto v = store_->get(key);
    return v ? std::move(*v) : std::move(fallback);
  }

  bool contains(const K& key) const {
    return store_->visit(key, [](const V&) {});
  }

  /// Calls `fn(const V&)` on the value for `key` without copying it (under the table's
  /// read lock: keep `fn` short); false when absent.
  template <class F>
  bool visit(const K& key, F&& fn) const {
    return store_->visit(key, std::forward<F>(fn));
  }

  size_t size() const { return store_->size(); }

private:
  const global_store<K, V>* store_;
};

template <class K, class V>
global_view<K, V> context::operator[](const mephisto::global_table<K, V>& t) const {
  if (globals_ == nullptr || t.index() >= globals_->size())
    throw_unknown_global(t.name());
  return global_view<K, V>{static_cast<const global_store<K, V>*>((*globals_)[t.index()].get())};
}

} // namespace mephisto
