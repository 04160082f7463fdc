#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <memory>
#include <stdexcept>
#include <utility>

namespace mephisto::detail {

/// A hash map whose entries never move: `find` and `try_emplace` hand out pointers that
/// stay valid until that entry is erased, across any number of inserts (stores keep
/// pointers to changed entries, and user code holds the `V&` that `at` returned).
///
/// An open addressing table of one 64-bit word per slot: the entry's address in the low
/// 48 bits, 16 bits of its key's hash (a tag) above them. Linear probing, at most 7/10
/// full, erase by backward shift (no tombstones). A lookup reads its slot's cache line and
/// then only the entry whose tag matches (a false match: 1 in 65536 per slot probed). Each
/// entry keeps its key's whole hash, so growing never hashes a key again.
///
/// Why not boost::unordered_flat_set of entry pointers (used before): a restore is a
/// stream of lookups that each miss the cache twice (the slot, then the entry), and a
/// caller that knows the next keys can overlap those misses only if it can compute where
/// they land. `hash_of`, `prefetch_slot` and `prefetch_entry` let it (see
/// `memory_store::restore_batch`; the figures are in the README, *Restore against table
/// size*).
///
/// Not thread-safe: owned and used like the store that holds it.
template <class K, class T, class Hash = std::hash<K>>
class node_map {
public:
  /// An entry: `first` is its key, `second` its value (as in std::pair).
  struct node {
    const K first;
    T second;
    const uint64_t hash; ///< hash_of(first)
  };

  node_map() : slots_(zeroed_slots(min_capacity)) {}
  node_map(const node_map&) = delete;
  node_map& operator=(const node_map&) = delete;
  ~node_map() { delete_entries(); }

  /// The hash the map files `key` under (the key's Hash, mixed so that its high bits,
  /// which choose the slot, depend on all of its bits: std::hash of an integer is the
  /// integer).
  static uint64_t hash_of(const K& key) {
    auto product = static_cast<unsigned __int128>(static_cast<uint64_t>(Hash{}(key)))
                   * 0x9e3779b97f4a7c15ull;
    return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
  }

  /// The entry for `key`, or null.
  node* find(const K& key) const { return hashed_find(hash_of(key), key); }

  /// The entry for `key` (whose hash_of is `hash`), or null.
  node* hashed_find(uint64_t hash, const K& key) const {
    for (auto i = home(hash);; i = next(i)) {
      auto slot = slots_[i];
      if (slot == 0)
        return nullptr;
      if (matches(slot, hash, key))
        return entry_of(slot);
    }
  }

  /// The entry for `key`, made with `T{args...}` when absent; true when made.
  template <class... Args>
  std::pair<node*, bool> try_emplace(const K& key, Args&&... args) {
    return hashed_try_emplace(hash_of(key), key, std::forward<Args>(args)...);
  }

  /// try_emplace for a key whose hash_of is `hash`.
  template <class... Args>
  std::pair<node*, bool> hashed_try_emplace(uint64_t hash, const K& key, Args&&... args) {
    auto i = home(hash);
    for (;; i = next(i)) {
      auto slot = slots_[i];
      if (slot == 0)
        break;
      if (matches(slot, hash, key))
        return {entry_of(slot), false};
    }
    if ((size_ + 1) * 10 > capacity_ * 7) {
      rehash(capacity_ * 2); // may throw: nothing changed yet
      for (i = home(hash); slots_[i] != 0; i = next(i))
        ;
    }
    auto* made = new node{key, T{std::forward<Args>(args)...}, hash};
    slots_[i] = pack(made, hash);
    ++size_;
    return {made, true};
  }

  /// Removes and frees `entry` (a pointer this map handed out).
  void erase(node* entry) {
    auto i = home(entry->hash);
    while (entry_of(slots_[i]) != entry)
      i = next(i);
    remove_slot(i);
    delete entry;
  }

  /// Removes `key`; false when absent.
  bool erase(const K& key) { return hashed_erase(hash_of(key), key); }

  /// erase for a key whose hash_of is `hash`.
  bool hashed_erase(uint64_t hash, const K& key) {
    for (auto i = home(hash);; i = next(i)) {
      auto slot = slots_[i];
      if (slot == 0)
        return false;
      if (matches(slot, hash, key)) {
        remove_slot(i);
        delete entry_of(slot);
        return true;
      }
    }
  }

  /// Removes every entry for which `pred(node&)` is true. If `pred` throws, the entries it
  /// already chose are gone and the rest stay.
  template <class Pred>
  void erase_if(Pred pred) {
    // Erased slots are emptied where they are, which breaks probe sequences: the table is
    // rebuilt afterwards, also when `pred` throws (the new array is allocated first).
    auto fresh = zeroed_slots(capacity_);
    struct rebuild_on_exit {
      node_map& map;
      slot_array& fresh;
      ~rebuild_on_exit() { map.move_entries(fresh, map.capacity_); }
    } rebuild{*this, fresh};
    for (size_t i = 0; i < capacity_; ++i) {
      if (slots_[i] != 0 && pred(*entry_of(slots_[i]))) {
        delete entry_of(slots_[i]);
        slots_[i] = 0;
        --size_;
      }
    }
  }

  /// Removes every entry; keeps the table's size.
  void clear() {
    delete_entries();
    std::memset(slots_.get(), 0, capacity_ * sizeof(uint64_t));
    size_ = 0;
  }

  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  /// Calls `fn(node&)` for every entry, in no order.
  template <class F>
  void for_each(F&& fn) const {
    for (size_t i = 0; i < capacity_; ++i)
      if (slots_[i] != 0)
        fn(*entry_of(slots_[i]));
  }

  /// Starts loading the slot where a key with this hash_of goes.
  void prefetch_slot(uint64_t hash) const { __builtin_prefetch(&slots_[home(hash)]); }

  /// Starts loading the entry a key with this hash_of may have, found from its slot's
  /// line (best after `prefetch_slot` of the same hash, some keys earlier): only the first
  /// slot with the key's tag in that line is looked at.
  void prefetch_entry(uint64_t hash) const {
    auto i = home(hash);
    auto line_end = (i | (slots_per_line - 1)) + 1;
    for (; i < line_end && i < capacity_; ++i) {
      auto slot = slots_[i];
      if (slot == 0)
        return;
      if ((slot >> address_bits) == tag_of(hash)) {
        __builtin_prefetch(entry_of(slot));
        return;
      }
    }
  }

private:
  static constexpr size_t min_capacity = 8;
  static constexpr size_t slots_per_line = 64 / sizeof(uint64_t);
  static constexpr int address_bits = 48;
  static constexpr uint64_t address_mask = (uint64_t{1} << address_bits) - 1;

  /// Slots in cache-line-aligned memory, so that `prefetch_entry`'s line is one.
  struct free_slots {
    void operator()(uint64_t* slots) const noexcept { std::free(slots); }
  };
  using slot_array = std::unique_ptr<uint64_t[], free_slots>;

  static slot_array zeroed_slots(size_t capacity) {
    auto bytes = capacity * sizeof(uint64_t); // a multiple of 64: capacity >= 8
    auto* slots = static_cast<uint64_t*>(std::aligned_alloc(64, bytes));
    if (slots == nullptr)
      throw std::bad_alloc{};
    std::memset(slots, 0, bytes);
    return slot_array{slots};
  }

  static uint64_t tag_of(uint64_t hash) { return hash & 0xffff; }

  static uint64_t pack(node* entry, uint64_t hash) {
    auto address = reinterpret_cast<uintptr_t>(entry);
    if ((address & ~address_mask) != 0) {
      delete entry;
      throw std::length_error("node_map: an entry's address does not fit in 48 bits");
    }
    return (tag_of(hash) << address_bits) | address;
  }

  static node* entry_of(uint64_t slot) { return reinterpret_cast<node*>(slot & address_mask); }

  static bool matches(uint64_t slot, uint64_t hash, const K& key) {
    if ((slot >> address_bits) != tag_of(hash))
      return false;
    auto* entry = entry_of(slot);
    return entry->hash == hash && entry->first == key;
  }

  size_t home(uint64_t hash) const { return static_cast<size_t>(hash >> shift_); }
  size_t next(size_t i) const { return (i + 1) & (capacity_ - 1); }

  /// Empties slot `i`, moving later slots of its probe sequence back (backward shift).
  void remove_slot(size_t i) {
    auto mask = capacity_ - 1;
    auto hole = i;
    for (auto j = next(i);; j = next(j)) {
      auto slot = slots_[j];
      if (slot == 0)
        break;
      // The entry at j may fill the hole if its home is not in (hole, j].
      auto from_home = (j - home(entry_of(slot)->hash)) & mask;
      if (from_home >= ((j - hole) & mask)) {
        slots_[hole] = slot;
        hole = j;
      }
    }
    slots_[hole] = 0;
    --size_;
  }

  void rehash(size_t capacity) {
    auto fresh = zeroed_slots(capacity);
    move_entries(fresh, capacity);
  }

  /// Files every entry into `fresh` (zeroed, `capacity` slots, enough for them all) and
  /// makes it the table. Never throws.
  void move_entries(slot_array& fresh, size_t capacity) noexcept {
    int bits = 0;
    while ((size_t{1} << bits) < capacity)
      ++bits;
    auto shift = 64 - bits;
    auto mask = capacity - 1;
    constexpr size_t ahead = 16; // entries whose hash is being loaded
    for (size_t i = 0; i < capacity_; ++i) {
      if (i + ahead < capacity_ && slots_[i + ahead] != 0)
        __builtin_prefetch(entry_of(slots_[i + ahead]));
      auto slot = slots_[i];
      if (slot == 0)
        continue;
      auto j = static_cast<size_t>(entry_of(slot)->hash >> shift);
      while (fresh[j] != 0)
        j = (j + 1) & mask;
      fresh[j] = slot;
    }
    slots_ = std::move(fresh);
    capacity_ = capacity;
    shift_ = shift;
  }

  void delete_entries() noexcept {
    for (size_t i = 0; i < capacity_; ++i)
      if (slots_[i] != 0)
        delete entry_of(slots_[i]);
  }

  slot_array slots_;
  size_t capacity_ = min_capacity; ///< a power of two
  int shift_ = 61;                 ///< 64 - log2(capacity_): a hash's top bits are its home
  size_t size_ = 0;
};

} // namespace mephisto::detail
