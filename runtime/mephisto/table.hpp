#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "mephisto/store.hpp"

namespace mephisto {

/// How a table is declared.
struct table_options {
  /// Number of partitions of the table and its changelog. 0: `topic_partitions` from the
  /// worker options. Must equal the partition count of every topic whose agents use it.
  int32_t partitions = 0;
};

/// An untyped reference to a table, as listed in `agent_options::tables`.
struct table_ref {
  uint32_t index;
};

/// A typed handle to a declared table. Cheap to copy; capture it by value.
template <class K, class V>
class table {
public:
  using key_type = K;
  using value_type = V;

  table(uint32_t index, std::string name) : index_(index), name_(std::move(name)) {}

  uint32_t index() const noexcept { return index_; }

  const std::string& name() const noexcept { return name_; }

  operator table_ref() const noexcept { return {index_}; }

private:
  uint32_t index_;
  std::string name_;
};

/// What an agent sees of one table partition while it processes a batch: the shard's
/// store, lent to the agent for that batch. Reads and writes are plain function calls.
template <class K, class V>
class table_view {
public:
  explicit table_view(typed_store<K, V>* store) : store_(store) {}

  /// The value for `key`, `V{}` if absent; the key is marked changed, so the value at the
  /// end of the batch goes to the changelog.
  V& operator[](const K& key) { return store_->at(key); }

  /// The value for `key`, or null. Marks nothing.
  const V* get(const K& key) const { return store_->find(key); }

  /// The value for `key`, or `fallback`.
  V get_or(const K& key, V fallback) const {
    auto p = store_->find(key);
    return p ? *p : fallback;
  }

  /// Deletes `key` (a tombstone goes to the changelog).
  bool erase(const K& key) { return store_->erase(key); }

  size_t size() const { return store_->size(); }

private:
  typed_store<K, V>* store_;
};

} // namespace mephisto
