#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mephisto/detail/restore_writer.hpp"
#include "mephisto/detail/rocksdb_partition.hpp"
#include "mephisto/error.hpp"
#include "mephisto/store.hpp"

namespace mephisto {

/// A table partition in RocksDB with a bounded in-memory cache of decoded entries.
///
/// Reads go to the cache, then to RocksDB. Changes stay in the cache until the batch that
/// made them is confirmed: `take_changes` writes their changelog records and the same
/// bytes into a pending write batch; `seal` hands that batch to the agent, which applies
/// it with the changelog offset once the records are delivered (or committed). So the
/// database never holds a value its changelog lacks, and a restart restores only from the
/// stored offset. Owned and used like every store: one thread at a time (see store_base).
template <class K, class V>
class rocksdb_store final : public typed_store<K, V> {
public:
  explicit rocksdb_store(store_place place) : place_(std::move(place)) {}

  /// A restore cut short (revoked, failed) still gives the data its compactions back.
  ~rocksdb_store() override {
    restore_.clear();
    if (db_)
      db_->end_bulk_load();
  }

  caf::error open(std::string& why) override {
    bool created = false;
    auto db = place_.rocks->open(place_.table, place_.partition, why, created);
    if (!db)
      return db.error();
    db_ = std::move(*db);
    if (created && why.empty())
      why = "local store missing";
    gen_ = db_->durable_gen.load(); // generations go on from an earlier store of the same DB
    return caf::none;
  }

  int64_t restored_offset() const override { return db_->offset(); }

  const store_error* failure() const noexcept override {
    return failure_ ? &*failure_ : nullptr;
  }

  caf::error discard() override {
    cache_.clear();
    restore_.clear();
    pending_.clear();
    return db_->clear();
  }

  V& at(const K& key) override {
    auto& kv = load(key);
    journal_.emplace_back(&kv, kv.second);
    auto& e = kv.second;
    if (!e.present) {
      e.value = V{};
      e.present = true;
    }
    mark(kv);
    return e.value;
  }

  const V* find(const K& key) override {
    auto& e = load(key).second;
    return e.present ? &e.value : nullptr;
  }

  bool erase(const K& key) override {
    auto& kv = load(key);
    if (!kv.second.present)
      return false;
    journal_.emplace_back(&kv, kv.second);
    kv.second.present = false;
    kv.second.value = V{};
    mark(kv);
    return true;
  }

  void begin_event() override { journal_.clear(); }

  void undo_event() override {
    for (auto u = journal_.rbegin(); u != journal_.rend(); ++u) {
      auto& e = u->first->second;
      if (e.dirty && !u->second.dirty)
        std::erase(dirty_, u->first);
      e = u->second;
    }
    journal_.clear();
  }

  bool restore(std::string_view key, std::optional<std::string_view> value,
               std::string& why) override {
    restore_record record{key, value};
    return restore_batch({&record, 1}, why) == 1;
  }

  /// Checks that the table can read every record, then hands those before the first it
  /// cannot to the restore writer at once (which overlaps their lookups). Only the last
  /// record of a key matters: the writer keeps it until the next checkpoint.
  size_t restore_batch(std::span<const restore_record> records, std::string& why) override {
    size_t readable = 0;
    for (; readable < records.size(); ++readable) {
      auto& r = records[readable];
      if (!codec<K>::decode(r.key, key_buf_, why)) {
        why = "key: " + why;
        break;
      }
      if (r.value && !codec<V>::decode(*r.value, value_buf_, why)) {
        why = "value: " + why;
        break;
      }
    }
    restore_.add(records.first(readable));
    return readable;
  }

  /// A full chunk goes to disk on the restore writer's thread while the restore goes on;
  /// `force` writes what is held and waits until it is written.
  caf::error checkpoint(int64_t next_offset, bool force) override {
    if (!force)
      return restore_.full() ? restore_.write(db_, next_offset) : caf::none;
    auto err = restore_.write(db_, next_offset, true);
    auto written = restore_.wait();
    return err ? err : written;
  }

  caf::error restore_done() override {
    // The restore's chunks (up to 2 x 32 MiB and their records) are not kept while the
    // table serves.
    if (auto err = restore_.release())
      return err;
    db_->end_bulk_load();
    return db_->flush();
  }

  void take_changes(send_buffer& out, uint32_t changelog, int32_t partition) override {
    auto gen = gen_ + 1;
    for (auto* kv : dirty_) {
      auto& e = kv->second;
      out.add<K, V>(changelog, partition, &kv->first, e.present ? &e.value : nullptr);
      auto& r = out[out.size() - 1];
      auto k = out.key(r);
      if (e.present) {
        auto v = out.value(r);
        pending_.put(db_->data(), k, v);
      } else {
        pending_.erase(db_->data(), k);
      }
      e.dirty = false;
      e.gen = gen;
    }
    dirty_.clear();
    evict();
  }

  std::unique_ptr<durable_write> seal() override {
    if (pending_.count() == 0)
      return nullptr;
    auto w = std::make_unique<write>(db_, std::move(pending_), ++gen_);
    pending_.clear();
    return w;
  }

  /// Keys on disk, corrected by the changes not yet durable. Counts: O(n), for logs and
  /// tests, not for the hot path.
  size_t size() const override {
    auto n = static_cast<int64_t>(db_->count());
    auto durable = db_->durable_gen.load();
    std::string k;
    std::string v;
    for (auto& [key, e] : cache_) {
      if (!e.dirty && e.gen <= durable)
        continue;
      k.clear();
      codec<K>::encode(key, k);
      bool on_disk = db_->get(k, v);
      n += (e.present ? 1 : 0) - (on_disk ? 1 : 0);
    }
    return static_cast<size_t>(n);
  }

  void snapshot(std::vector<std::pair<std::string, std::string>>& out) const override {
    db_->scan([&](std::string_view k, std::string_view v) { out.emplace_back(k, v); });
    // Changes not yet durable win over what is on disk.
    std::map<std::string, std::pair<bool, std::string>> newer;
    for (auto& [key, e] : cache_) {
      if (e.gen > db_->durable_gen.load() || e.dirty) {
        std::string k;
        std::string v;
        codec<K>::encode(key, k);
        if (e.present)
          codec<V>::encode(e.value, v);
        newer[k] = {e.present, v};
      }
    }
    if (newer.empty())
      return;
    std::vector<std::pair<std::string, std::string>> merged;
    for (auto& kv : out) {
      auto it = newer.find(kv.first);
      if (it == newer.end())
        merged.push_back(std::move(kv));
    }
    for (auto& [k, pv] : newer)
      if (pv.first)
        merged.emplace_back(k, pv.second);
    out = std::move(merged);
  }

private:
  struct entry {
    V value{};
    bool present = false;
    bool dirty = false;
    uint64_t gen = 0; ///< the seal that will make the last change durable; 0: on disk
  };

  using map_type = std::unordered_map<K, entry>;

  class write final : public durable_write {
  public:
    write(std::shared_ptr<rocksdb_partition> db, rocksdb_batch batch, uint64_t gen)
      : db_(std::move(db)), batch_(std::move(batch)), gen_(gen) {}

    caf::error apply(int64_t next_changelog_offset) override {
      if (auto err = db_->write(batch_, next_changelog_offset))
        return err;
      db_->durable_gen.store(gen_, std::memory_order_release);
      return caf::none;
    }

  private:
    std::shared_ptr<rocksdb_partition> db_;
    rocksdb_batch batch_;
    uint64_t gen_;
  };

  typename map_type::value_type& load(const K& key) {
    auto [it, added] = cache_.try_emplace(key);
    if (added) {
      key_text_.clear();
      codec<K>::encode(key, key_text_);
      std::string why;
      switch (db_->read(key_text_, value_text_, why)) {
        case rocksdb_partition::read_result::missing:
          break;
        case rocksdb_partition::read_result::failed:
          cache_.erase(it);
          fail("RocksDB read failed: " + why);
        case rocksdb_partition::read_result::found:
          if (!codec<V>::decode(value_text_, it->second.value, why)) {
            cache_.erase(it);
            fail("the stored value cannot be decoded: " + why);
          }
          it->second.present = true;
          break;
      }
    }
    return *it;
  }

  /// The store cannot be trusted: the next open rebuilds it from the whole changelog, and
  /// the read of `key_text_` throws.
  [[noreturn]] void fail(std::string reason) {
    place_.rocks->condemn(place_.table, place_.partition, reason);
    store_error err{place_.table, place_.partition, printable(key_text_), std::move(reason)};
    if (!failure_)
      failure_.emplace(err);
    throw err;
  }

  /// `text` with bytes outside printable ASCII as \xNN, cut after 200 bytes.
  static std::string printable(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : text.substr(0, 200)) {
      if (c >= 0x20 && c < 0x7f && c != '\\') {
        out += static_cast<char>(c);
      } else {
        out += "\\x";
        out += hex[c >> 4];
        out += hex[c & 0xf];
      }
    }
    if (text.size() > 200)
      out += "...";
    return out;
  }

  void mark(typename map_type::value_type& kv) {
    if (!kv.second.dirty) {
      kv.second.dirty = true;
      dirty_.push_back(&kv);
    }
  }

  /// Drops clean entries that are on disk once the cache holds more than `cache_keys`.
  void evict() {
    if (cache_.size() <= place_.cache_keys)
      return;
    auto durable = db_->durable_gen.load(std::memory_order_acquire);
    for (auto it = cache_.begin(); it != cache_.end();) {
      if (!it->second.dirty && it->second.gen <= durable)
        it = cache_.erase(it);
      else
        ++it;
    }
  }

  store_place place_;
  std::shared_ptr<rocksdb_partition> db_;
  detail::restore_writer restore_;
  map_type cache_;
  std::vector<typename map_type::value_type*> dirty_;
  /// Entries as they were before the current event changed them (cache entries are not
  /// evicted during a batch, so the pointers hold).
  std::vector<std::pair<typename map_type::value_type*, entry>> journal_;
  rocksdb_batch pending_;
  uint64_t gen_ = 0;
  std::string key_text_;
  std::string value_text_;
  std::optional<store_error> failure_; ///< the first store error a read raised
  K key_buf_{};
  V value_buf_{};
};

} // namespace mephisto
