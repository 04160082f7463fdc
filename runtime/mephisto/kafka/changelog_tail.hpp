#pragma once

// Internal (not installed): the consumer that reads table changelogs into stores, shared by
// the restore of a table shard and the standby replicas.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "mephisto/error.hpp"
#include "mephisto/kafka/config.hpp"
#include "mephisto/store.hpp"

namespace mephisto::kafka {

/// How a changelog tail's consumer is set up.
struct changelog_tail_options {
  std::string bootstrap;                     ///< bootstrap.servers (no default)
  std::string client_id;                     ///< client.id (no default)
  /// group.id (no default): assign() needs one; the consumer never joins the group nor
  /// commits.
  std::string group_id;
  /// auto.offset.reset: "earliest" reads a partition whose offset the changelog no longer
  /// has from its start; "error" reports it as a `changelog_event::offset_lost`.
  std::string offset_reset = "earliest";
  std::chrono::milliseconds fetch_wait{100}; ///< fetch.wait.max.ms (default 100)
  settings tuning;                           ///< further librdkafka settings (default none)
};

/// Where to start reading one changelog partition.
struct changelog_position {
  std::string topic;
  int32_t partition = 0;
  int64_t next = 0; ///< the next offset to read; 0: from the beginning (unless `exact`)
  /// `next` is known to be in the log (a low watermark was just asked for): it is read as
  /// is, also when 0. "From the beginning" costs librdkafka an offset lookup and half a
  /// second before its first fetch (measured: first record after 0.52 s against 0.02 s).
  bool exact = false;
};

/// One thing a changelog tail read. Its views stay valid only during the callback.
struct changelog_event {
  enum kind_type { record, end_of_partition, offset_lost, error };

  kind_type kind = record;
  std::string_view topic;                ///< "" when librdkafka names none
  int32_t partition = 0;
  int64_t offset = 0;                    ///< a record's; for the end: the next offset
  std::string_view key;                  ///< record only
  std::optional<std::string_view> value; ///< record only; nullopt: a tombstone
  const char* reason = "";               ///< offset_lost, error: librdkafka's message

  /// Applies a record to `store`: puts its value, or erases its key for a tombstone.
  /// False when the table cannot decode it (`why` says why).
  bool apply_to(store_base& store, std::string& why) const {
    return store.restore(key, value, why);
  }
};

/// Consecutive records of one store, in changelog order, applied together by
/// `store_base::restore_batch` (a memory store overlaps the cache misses of their keys).
/// Holds views into the `changelog_batch` the records came from: apply them before it
/// goes. Owned and reused by one reader (a restore, the standby actor): its buffers stay.
class record_run {
public:
  /// What `apply_to` did.
  struct outcome {
    size_t applied = 0;
    int64_t next = -1;   ///< the offset after the last record applied; -1: none was
    int64_t failed = -1; ///< the offset of a record the store cannot decode; -1: none
  };

  void add(const changelog_event& ev) {
    records_.push_back({ev.key, ev.value});
    offsets_.push_back(ev.offset);
  }

  /// Applies the records in order, up to one the store cannot decode (`why` says why),
  /// and forgets them.
  outcome apply_to(store_base& store, std::string& why) {
    outcome done;
    if (!records_.empty()) {
      done.applied = store.restore_batch(records_, why);
      if (done.applied > 0)
        done.next = offsets_[done.applied - 1] + 1;
      if (done.applied < records_.size())
        done.failed = offsets_[done.applied];
    }
    clear();
    return done;
  }

  void clear() noexcept {
    records_.clear();
    offsets_.clear();
  }

private:
  std::vector<restore_record> records_;
  std::vector<int64_t> offsets_;
};

/// What one `changelog_tail::read` got: its records and events, in order, as
/// `changelog_event`s (made as the iteration reaches them). Owns librdkafka's messages
/// until it is destroyed; used on the thread that read it.
class changelog_batch {
public:
  class iterator {
  public:
    explicit iterator(rd_kafka_message_t* const* at) : at_(at) {}
    changelog_event operator*() const;
    iterator& operator++() {
      ++at_;
      return *this;
    }
    bool operator!=(const iterator& other) const { return at_ != other.at_; }

  private:
    rd_kafka_message_t* const* at_;
  };

  changelog_batch() = default;
  changelog_batch(changelog_batch&&) = default;
  changelog_batch& operator=(changelog_batch&& other) noexcept;
  ~changelog_batch() { clear(); }

  iterator begin() const { return iterator{messages_.data()}; }
  iterator end() const { return iterator{messages_.data() + messages_.size()}; }
  /// How many records and events, or -1 when librdkafka failed the read.
  ssize_t count() const noexcept { return count_; }

private:
  friend class changelog_tail;
  void clear() noexcept;

  std::vector<rd_kafka_message_t*> messages_;
  ssize_t count_ = 0;
};

/// A consumer of changelog partitions outside any consumer group: manually assigned,
/// `read_committed`, reporting the end of each partition (`enable.partition.eof`), never
/// committing. Reads in batches of records and events.
///
/// Keeps librdkafka fetching while its reader is slower than the fetches: librdkafka 2.0
/// stops fetching once its local queue holds `queued.min.messages` (or
/// `queued.max.messages.kbytes` of values), and its broker thread
/// looks again only when something wakes it, at the latest after a second (2.1 added
/// `fetch.queue.backoff.ms` for this). A restore would stall a second at a time, or need
/// fetches so large that their records take half a GiB. So when `read` saw the queue full
/// and it is down to half, the tail asks for the assigned partitions' watermarks: a
/// request their broker thread serves, and then it fetches again.
///
/// Owned by one thread (the restorer's, or the standby actor's), which blocks in its
/// calls; not thread-safe. librdkafka's own threads fetch in the background. Closed by
/// `close` or the destructor.
class changelog_tail {
public:
  /// The most records one `read` hands over.
  static constexpr size_t max_batch = 1000;

  changelog_tail() = default;
  changelog_tail(const changelog_tail&) = delete;
  changelog_tail& operator=(const changelog_tail&) = delete;
  ~changelog_tail() { close(); }

  /// Creates the consumer; a bad setting or a client librdkafka refuses is an error.
  caf::error open(const changelog_tail_options& opts);

  bool is_open() const noexcept { return rk_ != nullptr; }

  /// Reads exactly `positions` from now on (replacing the previous assignment).
  rd_kafka_resp_err_t assign(const std::vector<changelog_position>& positions);

  /// Up to `max` (at most `max_batch`) records and events, waiting up to `wait` when none
  /// is there. Nothing when the tail is not open.
  changelog_batch read(std::chrono::milliseconds wait, size_t max);

  /// Asks the broker for the (low, high) watermarks of a partition.
  rd_kafka_resp_err_t query_watermarks(const std::string& topic, int32_t partition,
                                       int64_t& low, int64_t& high,
                                       std::chrono::milliseconds timeout);

  /// The watermarks the last fetch brought: no request to the broker.
  rd_kafka_resp_err_t cached_watermarks(const std::string& topic, int32_t partition,
                                        int64_t& low, int64_t& high);

  /// How many times the tail woke librdkafka's fetches (see the class comment).
  uint64_t fetcher_wakes() const noexcept { return fetcher_wakes_; }

  /// Closes the consumer (leaves nothing assigned); `open` may follow.
  void close();

private:
  /// Wakes the broker threads of the assigned partitions (see the class comment).
  void wake_fetchers();

  handle_ptr rk_;
  queue_ptr queue_;
  std::vector<changelog_position> assigned_;
  size_t queued_min_ = 100000;         ///< queued.min.messages in effect
  size_t queued_max_bytes_ = 64 << 20; ///< queued.max.messages.kbytes in effect, in bytes
  double value_bytes_ = 0;             ///< recent values' mean size (librdkafka counts those)
  bool fetch_parked_ = false; ///< the queue was full: librdkafka may have stopped fetching
  uint64_t fetcher_wakes_ = 0;
};

} // namespace mephisto::kafka
