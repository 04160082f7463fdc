#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mephisto/codec.hpp"
#include "mephisto/detail/node_map.hpp"
#include "mephisto/error.hpp"
#include "mephisto/send_buffer.hpp"

namespace mephisto {

class rocksdb_env;
class context;

/// Thrown by a table read when the local store cannot be trusted: RocksDB failed the read
/// (a status other than NotFound, e.g. `Corruption` or `IOError`) or the stored value does
/// not decode. Not a failure of the user function (no retry, no dead letter): the store is
/// marked for rebuilding, the partition restarts as after `restart_partition`, its table
/// partition is rebuilt from the whole changelog and the event runs again. User code should
/// let it through; an agent that swallows it still restarts its partition after the batch.
class store_error : public std::runtime_error {
public:
  store_error(std::string table, int32_t partition, std::string key, std::string reason)
    : std::runtime_error("table " + table + " [" + std::to_string(partition) + "], key '" + key
                         + "': " + reason),
      table_(std::move(table)), partition_(partition), key_(std::move(key)),
      reason_(std::move(reason)) {}

  const std::string& table() const noexcept { return table_; }
  int32_t partition() const noexcept { return partition_; }
  /// The key as stored (its codec's encoding; bytes outside printable ASCII escaped).
  const std::string& key() const noexcept { return key_; }
  /// RocksDB's status (`Corruption: block checksum mismatch ...`) or the decoder's reason.
  const std::string& reason() const noexcept { return reason_; }

private:
  std::string table_;
  int32_t partition_;
  std::string key_;
  std::string reason_;
};

/// Where a store lives: the worker's RocksDB environment (null: memory) and which table
/// partition it holds.
struct store_place {
  rocksdb_env* rocks = nullptr;
  std::string table;
  int32_t partition = 0;
  /// Most keys a RocksDB store keeps decoded in memory (changed keys not yet durable are
  /// never evicted).
  size_t cache_keys = 100000;
};

/// The writes of one batch to a durable store, applied once the batch's changelog records
/// are confirmed (delivered, or committed under exactly-once), together with the
/// changelog offset they reflect. Made by the store's owner, applied by the agent, in
/// batch order.
class durable_write {
public:
  virtual ~durable_write();

  /// Writes the data and, when `next_changelog_offset >= 0`, that offset, atomically.
  virtual caf::error apply(int64_t next_changelog_offset) = 0;
};

/// One changelog record to restore: views into the consumer's message.
struct restore_record {
  std::string_view key;
  std::optional<std::string_view> value; ///< nullopt: a tombstone
};

/// The state of one table partition (a shard), behind a type-erased interface so that
/// actors can own and lend it without knowing the key and value types.
///
/// A store is owned by its table-shard actor. It is touched by exactly one thread at a
/// time: the changelog restorer while recovering, then the shard, or the agent that holds
/// the shard's lease for one batch. Handing the store over is always a CAF message, which
/// orders the accesses; the store itself has no locks.
class store_base {
public:
  virtual ~store_base();

  /// Opens what the store keeps on disk; a store that cannot be used is discarded with a
  /// warning (`why` says why) and starts empty. Memory stores have nothing to open.
  virtual caf::error open(std::string& why) {
    why.clear();
    return caf::none;
  }

  /// The changelog offset the store already reflects (0: restore everything).
  virtual int64_t restored_offset() const { return 0; }

  /// Forgets everything (a local store that cannot be trusted), before a full restore.
  virtual caf::error discard() { return caf::none; }

  /// The store error a read of this store raised, null if none: the store is then not to
  /// be trusted any more (its partition must restart, even if user code caught the error).
  virtual const store_error* failure() const noexcept { return nullptr; }

  /// Applies one changelog record while recovering; `value == nullopt` deletes the key.
  /// Returns false with a reason when the record cannot be decoded.
  virtual bool restore(std::string_view key, std::optional<std::string_view> value,
                       std::string& why) = 0;

  /// Applies `records` in order, as `restore` one by one would. Returns how many were
  /// applied: all, or the index of the first that cannot be decoded (`why` says why; none
  /// after it is applied). A store that can apply many records faster than one at a time
  /// overrides it (memory stores overlap the cache misses of a batch's keys).
  virtual size_t restore_batch(std::span<const restore_record> records, std::string& why) {
    for (size_t i = 0; i < records.size(); ++i)
      if (!restore(records[i].key, records[i].value, why))
        return i;
    return records.size();
  }

  /// During recovery: everything restored so far reflects the changelog up to
  /// `next_offset`; a durable store may persist it now (always when `force`), and a
  /// restart resumes from there.
  virtual caf::error checkpoint(int64_t next_offset, bool force) {
    (void) next_offset;
    (void) force;
    return caf::none;
  }

  /// Recovery is over: everything checkpointed must be durable before the store is used.
  virtual caf::error restore_done() { return caf::none; }

  /// Starts an event: changes from here on can be undone with `undo_event`.
  virtual void begin_event() {}

  /// Undoes the changes of the current event (its user function threw).
  virtual void undo_event() {}

  /// After `take_changes`: the batch's writes still to be made durable, or null (memory
  /// stores, or nothing changed).
  virtual std::unique_ptr<durable_write> seal() { return nullptr; }

  /// Appends a changelog record for every key changed since the last call (tombstones
  /// for deleted keys) to `out` for topic `changelog` and partition `partition`, then
  /// forgets the changes.
  virtual void take_changes(send_buffer& out, uint32_t changelog, int32_t partition) = 0;

  /// Number of keys.
  virtual size_t size() const = 0;

  /// Looks up an encoded key; on a hit writes the encoded value. False when absent; an
  /// undecodable key is an absent one with `why` set.
  virtual bool lookup(std::string_view key, std::string& value, std::string& why) = 0;

  /// Appends every (key, value) pair, encoded with the table's codecs.
  virtual void snapshot(std::vector<std::pair<std::string, std::string>>& out) const = 0;

  /// The batch's events are done, its changes not yet taken: a windowed table moves its
  /// clock and closes windows here, sending through `ctx`.
  virtual void end_batch(context& ctx) { (void) ctx; }
};

/// The typed access agents get through `table_view`.
template <class K, class V>
class typed_store : public store_base {
public:
  /// The value for `key`, inserting `V{}` when absent; marks the key changed.
  virtual V& at(const K& key) = 0;

  /// The value for `key` or null, without marking anything.
  virtual const V* find(const K& key) = 0;

  /// Removes `key`; the changelog gets a tombstone.
  virtual bool erase(const K& key) = 0;

  bool lookup(std::string_view key, std::string& value, std::string& why) final {
    why.clear();
    K decoded{};
    if (!codec<K>::decode(key, decoded, why))
      return false;
    auto p = find(decoded);
    if (p == nullptr)
      return false;
    value.clear();
    codec<V>::encode(*p, value);
    return true;
  }
};

/// Records the changelog offset a confirmed batch reached (memory stores: the agent
/// applies it from its own thread, hence the atomic).
class offset_write final : public durable_write {
public:
  explicit offset_write(std::shared_ptr<std::atomic<int64_t>> offset) : offset_(std::move(offset)) {}

  caf::error apply(int64_t next_changelog_offset) override {
    auto cur = offset_->load(std::memory_order_relaxed);
    while (next_changelog_offset > cur
           && !offset_->compare_exchange_weak(cur, next_changelog_offset,
                                              std::memory_order_release))
      ;
    return caf::none;
  }

private:
  std::shared_ptr<std::atomic<int64_t>> offset_;
};

/// A store in a hash map whose entries never move (detail::node_map: the `V&` that `at`
/// returns stays valid until its key is erased). Changed keys are remembered (not their
/// history): a batch that increments a key 1000 times writes one changelog record with the
/// final value, which is what a compacted changelog keeps anyway.
template <class K, class V>
class memory_store final : public typed_store<K, V> {
public:
  struct entry {
    V value{};
    bool dirty = false;
  };

  using map_type = detail::node_map<K, entry>;
  using node = typename map_type::node;

  V& at(const K& key) override {
    journal(key);
    auto [kv, added] = map_.try_emplace(key);
    if (added && !deleted_.empty() && std::erase(deleted_, key) > 0)
      journal_.back().removed_from_deleted = true; // deleted earlier in the batch
    if (!kv->second.dirty) {
      kv->second.dirty = true;
      dirty_.push_back(kv);
    }
    return kv->second.value;
  }

  const V* find(const K& key) override {
    auto* kv = map_.find(key);
    return kv != nullptr ? &kv->second.value : nullptr;
  }

  bool erase(const K& key) override {
    auto* kv = map_.find(key);
    if (kv == nullptr)
      return false;
    journal(key);
    if (kv->second.dirty)
      std::erase(dirty_, kv);
    deleted_.push_back(key);
    journal_.back().appended_to_deleted = true;
    map_.erase(kv);
    return true;
  }

  /// The changelog offset after the last record the store reflects: set by restore
  /// checkpoints and by confirmed batches (see `seal`). A copy kept warm by the standby
  /// actor goes on from there.
  int64_t restored_offset() const override { return offset_->load(std::memory_order_acquire); }

  /// Nothing to write, but the offset of a confirmed batch is worth knowing: a store handed
  /// to the standby actor on a revoke only needs the changelog after it.
  std::unique_ptr<durable_write> seal() override {
    if (!changed_)
      return nullptr;
    changed_ = false;
    return std::make_unique<offset_write>(offset_);
  }

  caf::error discard() override {
    map_.clear();
    dirty_.clear();
    deleted_.clear();
    journal_.clear();
    offset_->store(0, std::memory_order_release);
    return caf::none;
  }

  caf::error checkpoint(int64_t next_offset, bool) override {
    offset_->store(next_offset, std::memory_order_release);
    return caf::none;
  }

  bool restore(std::string_view key, std::optional<std::string_view> value,
               std::string& why) override {
    restore_record record{key, value};
    return restore_batch({&record, 1}, why) == 1;
  }

  /// Decodes the batch's keys and hashes them first, then applies the records in order
  /// while the table's slots (16 records ahead) and entries (8 ahead) load: a restore's
  /// lookups miss the cache twice each, and one at a time they were most of its time.
  size_t restore_batch(std::span<const restore_record> records, std::string& why) override {
    constexpr size_t slot_ahead = 16;
    constexpr size_t entry_ahead = 8;
    auto count = records.size();
    if (batch_keys_.size() < count)
      batch_keys_.resize(count);
    batch_hashes_.resize(count);
    size_t decoded = 0;
    for (; decoded < count; ++decoded) {
      if (!codec<K>::decode(records[decoded].key, batch_keys_[decoded], why)) {
        why = "key: " + why;
        break;
      }
      batch_hashes_[decoded] = map_type::hash_of(batch_keys_[decoded]);
    }
    for (size_t i = 0; i < std::min(slot_ahead, decoded); ++i)
      map_.prefetch_slot(batch_hashes_[i]);
    for (size_t i = 0; i < std::min(entry_ahead, decoded); ++i)
      map_.prefetch_entry(batch_hashes_[i]);
    for (size_t i = 0; i < decoded; ++i) {
      if (i + slot_ahead < decoded)
        map_.prefetch_slot(batch_hashes_[i + slot_ahead]);
      if (i + entry_ahead < decoded)
        map_.prefetch_entry(batch_hashes_[i + entry_ahead]);
      const auto& key = batch_keys_[i];
      if (!records[i].value) {
        map_.hashed_erase(batch_hashes_[i], key);
        continue;
      }
      if (!codec<V>::decode(*records[i].value, value_buf_, why)) {
        why = "value: " + why;
        return i;
      }
      using std::swap;
      swap(map_.hashed_try_emplace(batch_hashes_[i], key).first->second.value, value_buf_);
    }
    return decoded;
  }

  void take_changes(send_buffer& out, uint32_t changelog, int32_t partition) override {
    changed_ = changed_ || !dirty_.empty() || !deleted_.empty();
    for (auto* kv : dirty_) {
      out.add<K, V>(changelog, partition, &kv->first, &kv->second.value);
      kv->second.dirty = false;
    }
    dirty_.clear();
    for (auto& key : deleted_)
      out.add<K, V>(changelog, partition, &key, nullptr);
    deleted_.clear();
  }

  size_t size() const override { return map_.size(); }

  void begin_event() override { journal_.clear(); }

  void undo_event() override {
    // Newest first, so a key touched twice ends with its oldest state.
    for (auto u = journal_.rbegin(); u != journal_.rend(); ++u) {
      if (auto* kv = map_.find(u->key)) {
        if (kv->second.dirty)
          std::erase(dirty_, kv);
        map_.erase(kv);
      }
      if (u->appended_to_deleted)
        deleted_.pop_back();
      if (u->removed_from_deleted)
        deleted_.push_back(u->key);
      if (u->old) {
        auto* kv = map_.try_emplace(u->key, std::move(*u->old), u->was_dirty).first;
        if (u->was_dirty)
          dirty_.push_back(kv);
      }
    }
    journal_.clear();
  }

  void snapshot(std::vector<std::pair<std::string, std::string>>& out) const override {
    map_.for_each([&out](const node& kv) {
      std::string k;
      std::string v;
      codec<K>::encode(kv.first, k);
      codec<V>::encode(kv.second.value, v);
      out.emplace_back(std::move(k), std::move(v));
    });
  }

private:
  /// A key's state before the current event changed it.
  struct undo_record {
    K key;
    std::optional<V> old;
    bool was_dirty = false;
    bool appended_to_deleted = false;   ///< an erase: added the key to `deleted_`
    bool removed_from_deleted = false;  ///< an insert: took the key out of `deleted_`
  };

  /// Remembers `key`'s state before a change (called before `at` and `erase` change it).
  void journal(const K& key) {
    undo_record u{key, std::nullopt, false, false, false};
    if (auto* kv = map_.find(key)) {
      u.old = kv->second.value;
      u.was_dirty = kv->second.dirty;
    }
    journal_.push_back(std::move(u));
  }

  map_type map_;
  std::vector<node*> dirty_;
  std::vector<K> deleted_;
  std::vector<undo_record> journal_;
  V value_buf_{}; ///< restore_batch's decoded value, swapped into the table
  std::vector<K> batch_keys_;       ///< restore_batch's decoded keys (their buffers reused)
  std::vector<uint64_t> batch_hashes_;
  /// Shared with the `offset_write`s of batches in flight, which may outlive the store.
  std::shared_ptr<std::atomic<int64_t>> offset_ = std::make_shared<std::atomic<int64_t>>(0);
  bool changed_ = false; ///< records taken since the last `seal`
};

} // namespace mephisto
