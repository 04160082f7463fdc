#include "mephisto/detail/restore_chunk.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>

namespace mephisto::detail {

namespace {

constexpr size_t first_index_slots = 1024;

uint32_t tag_of(uint64_t hash) noexcept {
  return static_cast<uint32_t>(hash >> 32);
}

} // namespace

uint64_t restore_chunk::hash_of(std::string_view key) noexcept {
  return std::hash<std::string_view>{}(key);
}

void restore_chunk::add(uint64_t hash, std::string_view key,
                        std::optional<std::string_view> value) {
  if (moved_ || (records_.size() + 1) * 2 > index_.size())
    reindex(moved_ ? std::max(index_.size(), first_index_slots)
                   : std::max(index_.size() * 2, first_index_slots));
  // Positions in the buffer are 32 bits: a restore checkpoints (and empties the chunk) once
  // it holds 32 MiB, after every batch, so only a batch of records of gigabytes gets here.
  if (bytes_.size() + key.size() + (value ? value->size() : 0) > UINT32_MAX)
    throw std::length_error("a restore chunk cannot hold more than 4 GiB");
  ++added_;
  auto size = static_cast<uint32_t>(value ? value->size() : 0);
  auto tag = tag_of(hash);
  for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
    auto slot = index_[i];
    if (slot == 0) {
      record r{{0, 0}, static_cast<uint32_t>(bytes_.size()), static_cast<uint32_t>(key.size()),
               static_cast<uint32_t>(bytes_.size() + key.size()), size, size,
               value.has_value()};
      unsigned char head[16] = {};
      std::memcpy(head, key.data(), std::min<size_t>(16, key.size()));
      for (int b = 0; b < 16; ++b)
        r.head[b / 8] = (r.head[b / 8] << 8) | head[b];
      bytes_.append(key);
      if (value)
        bytes_.append(*value);
      records_.push_back(r);
      index_[i] = (uint64_t{tag} << 32) | records_.size();
      return;
    }
    if (tag_of(slot) != tag)
      continue;
    auto& r = records_[static_cast<uint32_t>(slot) - 1];
    if (this->key(r) != key)
      continue;
    // A later record of a key already held: it replaces the earlier one.
    r.present = value.has_value();
    if (size > r.value_room) {
      r.value_at = static_cast<uint32_t>(bytes_.size());
      r.value_room = size;
      bytes_.append(*value);
    } else if (size > 0) {
      std::memcpy(bytes_.data() + r.value_at, value->data(), size);
    }
    r.value_size = size;
    return;
  }
}

std::vector<size_t> restore_chunk::split(size_t parts) {
  moved_ = true;
  auto by_key = [this](const record& x, const record& y) { return less(x, y); };
  std::vector<size_t> starts{0};
  auto n = records_.size();
  for (size_t p = 1; p < parts; ++p) {
    auto at = n * p / parts;
    if (at > starts.back() && at < n)
      std::nth_element(records_.begin() + static_cast<ptrdiff_t>(starts.back()),
                       records_.begin() + static_cast<ptrdiff_t>(at), records_.end(), by_key);
    starts.push_back(std::max(at, starts.back()));
  }
  starts.push_back(n);
  return starts;
}

void restore_chunk::sort(size_t first, size_t last) {
  std::sort(records_.begin() + static_cast<ptrdiff_t>(first),
            records_.begin() + static_cast<ptrdiff_t>(last),
            [this](const record& x, const record& y) { return less(x, y); });
}

void restore_chunk::clear() {
  auto keys = records_.size();
  if (bytes_.capacity() > 4 * bytes_.size() + (size_t{1} << 20))
    std::string{}.swap(bytes_);
  else
    bytes_.clear();
  if (records_.capacity() > 4 * keys + 4096)
    std::vector<record>{}.swap(records_);
  else
    records_.clear();
  // An index twice the keys' number is its smallest (at most half full).
  if (index_.size() > 8 * keys + first_index_slots) {
    std::vector<uint64_t>{}.swap(index_);
    mask_ = 0;
  } else {
    std::fill(index_.begin(), index_.end(), 0);
  }
  added_ = 0;
  moved_ = false;
}

void restore_chunk::release() {
  // Swapped with empty ones: a string moved from an empty one keeps its own buffer.
  std::string{}.swap(bytes_);
  std::vector<record>{}.swap(records_);
  std::vector<uint64_t>{}.swap(index_);
  mask_ = 0;
  added_ = 0;
  moved_ = false;
}

void restore_chunk::reindex(size_t slots) {
  index_.assign(slots, 0);
  mask_ = slots - 1;
  for (size_t n = 0; n < records_.size(); ++n) {
    auto hash = hash_of(key(records_[n]));
    auto i = hash & mask_;
    while (index_[i] != 0)
      i = (i + 1) & mask_;
    index_[i] = (uint64_t{tag_of(hash)} << 32) | (n + 1);
  }
  moved_ = false;
}

} // namespace mephisto::detail
