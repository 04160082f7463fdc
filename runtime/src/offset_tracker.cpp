#include "mephisto/offset_tracker.hpp"

#include <stdexcept>

namespace mephisto {

uint64_t offset_tracker::open(int64_t next_offset) {
  if (!open_.empty() && next_offset < open_.back().next_offset)
    throw std::logic_error("offset_tracker: batches must be opened in offset order");
  open_.push_back({next_offset, false});
  return first_seq_ + open_.size() - 1;
}

bool offset_tracker::complete(uint64_t seq) {
  if (seq < first_seq_ || seq >= first_seq_ + open_.size())
    return false; // unknown or already completed
  open_[seq - first_seq_].done = true;
  bool moved = false;
  while (!open_.empty() && open_.front().done) {
    committable_ = open_.front().next_offset;
    open_.pop_front();
    ++first_seq_;
    moved = true;
  }
  return moved;
}

} // namespace mephisto
