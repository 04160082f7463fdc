#include "mephisto/kafka/changelog_restore.hpp"

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include <unistd.h>

#include "mephisto/kafka/changelog_tail.hpp"
#include "mephisto/log.hpp"

namespace mephisto::kafka {

using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

namespace {

/// (low, high) watermarks of the changelog partition.
expected<std::pair<int64_t, int64_t>> watermarks(changelog_tail& tail, const restore_job& job) {
  int64_t lo = 0;
  int64_t hi = 0;
  auto deadline = clock_type::now() + job.stall_timeout;
  for (;;) {
    auto err = tail.query_watermarks(job.changelog, job.partition, lo, hi, milliseconds{5000});
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
      return std::make_pair(lo, hi);
    if (clock_type::now() >= deadline || (job.cancel && job.cancel->load()))
      return make_error(errc::recovery_failed,
                        "table " + job.table + ": cannot read the high watermark of "
                          + job.changelog + " [" + std::to_string(job.partition)
                          + "]: " + rd_kafka_err2str(err));
  }
}

expected<int64_t> high_watermark(changelog_tail& tail, const restore_job& job) {
  auto wm = watermarks(tail, job);
  if (!wm)
    return wm.error();
  return wm->second;
}

/// Progress: a live line on a terminal, a log line per second otherwise.
void report(const restore_job& job, const std::string& where, const restore_stats& stats,
            int64_t start, int64_t next, clock_type::time_point started, bool done) {
  static const bool tty = ::isatty(STDERR_FILENO) == 1;
  double secs = std::max(std::chrono::duration<double>(clock_type::now() - started).count(),
                         1e-3);
  double span = std::max<double>(1, stats.high_watermark - start);
  double offsets_per_s = (next - start) / secs;
  double eta = offsets_per_s > 0 ? (stats.high_watermark - next) / offsets_per_s : -1;
  auto line = fmt::format("restoring table {} from {}: {} records, {:.0f}%, {:.0f} records/s, "
                          "ETA {}",
                          job.table, where, stats.records, 100.0 * (next - start) / span,
                          stats.records / secs,
                          eta < 0 ? std::string{"?"} : fmt::format("{:.0f} s", eta));
  if (tty)
    std::fprintf(stderr, "\r%s\033[K%s", line.c_str(), done ? "\n" : "");
  else if (!done)
    log().info("{}", line);
}

/// Reads the tail on a thread of its own, a few batches ahead of the restore, so that
/// popping and freeing librdkafka's messages runs beside the store's decoding and writes
/// (which are most of a restore: hash lookups that miss the cache, memtable inserts).
///
/// The restore hands each applied batch back (`recycle`), and this thread frees its
/// messages too: freeing them was a tenth of the restoring thread's time.
///
/// Owned by `restore_changelog`; its thread is the only reader of the tail while it runs
/// (the restore still asks the tail for watermarks, which librdkafka allows from any
/// thread). Holds at most `depth` batches of `changelog_tail::max_batch` messages read
/// ahead, and the few applied ones not yet freed.
class fetch_ahead {
public:
  static constexpr size_t depth = 4;

  explicit fetch_ahead(changelog_tail& tail) : thread_([this, &tail] { run(tail); }) {}

  fetch_ahead(const fetch_ahead&) = delete;
  fetch_ahead& operator=(const fetch_ahead&) = delete;

  ~fetch_ahead() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }

  /// The next batch read, or an empty one when none came within `wait`.
  changelog_batch next(std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> guard{mtx_};
    if (!changed_.wait_for(guard, wait, [this] { return !ready_.empty(); }))
      return {};
    auto batch = std::move(ready_.front());
    ready_.pop_front();
    guard.unlock();
    changed_.notify_all();
    return batch;
  }

  /// Gives back a batch `next` returned, once applied, to be freed on the reading thread.
  void recycle(changelog_batch&& spent) {
    if (spent.count() <= 0)
      return;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      spent_.push_back(std::move(spent));
    }
    changed_.notify_all();
  }

private:
  void run(changelog_tail& tail) {
    std::deque<changelog_batch> spent;
    for (;;) {
      bool room = false; // only this thread adds to `ready_`: room stays room
      {
        std::unique_lock<std::mutex> guard{mtx_};
        changed_.wait(guard, [this] {
          return stopping_ || ready_.size() < depth || !spent_.empty();
        });
        if (stopping_)
          return;
        spent.swap(spent_);
        room = ready_.size() < depth;
      }
      spent.clear(); // frees their messages, outside the lock
      if (!room)
        continue;
      // Take what is there without waiting; only an empty queue waits, and then for one
      // record: a batch read with a timeout waits the whole timeout for a full batch.
      auto batch = tail.read(milliseconds{0}, changelog_tail::max_batch);
      if (batch.count() == 0)
        batch = tail.read(milliseconds{100}, 1);
      if (batch.count() == 0)
        continue;
      {
        std::lock_guard<std::mutex> guard{mtx_};
        ready_.push_back(std::move(batch));
      }
      changed_.notify_all();
    }
  }

  std::mutex mtx_;
  std::condition_variable changed_;
  std::deque<changelog_batch> ready_;
  std::deque<changelog_batch> spent_; ///< applied, to be freed here
  bool stopping_ = false;
  std::thread thread_; ///< last: starts once the rest is made
};

} // namespace

expected<restore_stats> restore_changelog(const restore_job& job, store_base& store) {
  auto started = clock_type::now();
  changelog_tail tail;
  if (auto err = tail.open({
        .bootstrap = job.bootstrap,
        .client_id = "mephisto-restore",
        .group_id = "mephisto-restore-" + job.changelog,
        .offset_reset = "earliest",
        .fetch_wait = milliseconds{50},
        // The user's consumer properties. librdkafka's fetch sizes serve a restore best:
        // with fetches of 32 MiB (tried), a partition's restore held ~1M fetched records at
        // once (540 MiB at peak against 150 MiB) and was not faster, now that the tail keeps
        // the fetches going (see changelog_tail).
        .tuning = job.client_settings,
      }))
    return err;
  auto where = job.changelog + " [" + std::to_string(job.partition) + "]";
  restore_stats stats;
  auto wm = watermarks(tail, job);
  if (!wm)
    return wm.error();
  auto [low, high] = *wm;
  stats.high_watermark = high;
  // A local store resumes from the offset it reflects, unless the changelog no longer
  // matches it: then it is discarded and rebuilt, never served.
  int64_t start = store.restored_offset();
  if (start > 0 && (start > high || start < low)) {
    auto why = start > high ? fmt::format("it is ahead of the changelog (offset {} > high "
                                          "watermark {}): was the changelog recreated?",
                                          start, high)
                            : fmt::format("the changelog was truncated below its offset {} "
                                          "(low watermark {})",
                                          start, low);
    log().warn("table {} [{}]: local store discarded: {}; rebuilding it from the changelog",
               job.table, job.partition, why);
    stats.discarded = why;
    if (auto err = store.discard())
      return err;
    start = 0;
  }
  stats.start = start;
  if (start >= high)
    return stats;
  // The records left, for /metrics and /ready: set now, refreshed every 100 ms, gone at the end.
  struct remaining_entry {
    const restore_job& job;
    ~remaining_entry() {
      if (job.remaining != nullptr)
        job.remaining->erase(job.changelog, job.partition);
    }
    void set(int64_t left) const {
      if (job.remaining != nullptr)
        job.remaining->set(job.changelog, job.partition, std::max<int64_t>(0, left));
    }
  } remaining{job};
  remaining.set(high - start);
  auto last_remaining = clock_type::now();
  // From an offset known to be there: the store's, or the changelog's first.
  auto aerr = tail.assign({{job.changelog, job.partition, std::max(start, low), true}});
  if (aerr != RD_KAFKA_RESP_ERR_NO_ERROR)
    return make_error(errc::recovery_failed, where + ": assign: " + rd_kafka_err2str(aerr));
  std::string why;
  int64_t next = start; // next offset expected
  int64_t checkpointed = start;
  auto last_progress = clock_type::now();
  auto last_report = clock_type::now();
  caf::error failure;
  // A batch's records go to the store together, up to the next event.
  record_run run;
  auto apply_run = [&] {
    if (failure) {
      run.clear();
      return;
    }
    auto done = run.apply_to(store, why);
    stats.records += done.applied;
    if (done.next >= 0)
      next = done.next;
    if (done.failed >= 0)
      failure = make_error(errc::recovery_failed,
                           where + " offset " + std::to_string(done.failed)
                             + ": the table cannot decode the record: " + why);
  };
  std::optional<fetch_ahead> ahead{std::in_place, tail};
  while (next < stats.high_watermark && !failure) {
    if (job.cancel && job.cancel->load())
      return make_error(errc::recovery_failed, where + ": cancelled");
    auto batch = ahead->next(milliseconds{100});
    for (const auto& ev : batch) {
      if (ev.kind == changelog_event::record) {
        run.add(ev); // views into `batch`, which outlives the run
        continue;
      }
      apply_run();
      if (ev.kind == changelog_event::end_of_partition) {
        next = std::max(next, ev.offset);
      } else if (ev.kind == changelog_event::offset_lost && start == 0) {
        // The changelog's first records went (retention) after its low watermark was read:
        // the consumer goes on from its new first one, which is all a rebuild wants.
        continue;
      } else if (!failure) {
        failure = make_error(errc::recovery_failed, where + ": " + ev.reason);
      }
    }
    apply_run();
    auto n = batch.count();
    ahead->recycle(std::move(batch));
    auto now = clock_type::now();
    if (n > 0) {
      last_progress = now;
    } else if (now - last_progress > job.stall_timeout) {
      // No progress: maybe the high watermark moved back (truncation) or the broker is gone.
      auto again = high_watermark(tail, job);
      if (!again)
        return again.error();
      if (*again <= next) {
        stats.high_watermark = *again;
        break;
      }
      failure = make_error(errc::recovery_failed,
                           where + ": no progress for "
                             + std::to_string(job.stall_timeout.count()) + " ms at offset "
                             + std::to_string(next) + " of " + std::to_string(*again));
    }
    if (now - last_remaining > milliseconds{100}) {
      last_remaining = now;
      remaining.set(stats.high_watermark - next);
    }
    if (now - last_report > std::chrono::seconds(1) && stats.high_watermark > 0) {
      last_report = now;
      report(job, where, stats, start, next, started, false);
    }
    // A durable store keeps what it has so far, once it holds a chunk's worth: a restart
    // resumes from there. Asked after every batch, so that what a store holds between
    // checkpoints stays bounded also when its records are large.
    if (!failure && next > checkpointed) {
      failure = store.checkpoint(next, false);
      checkpointed = next;
    }
  }
  // Reading is over. The consumer closes on a thread of its own (mostly a few ms, at times
  // 40-100 ms) while the store writes what it holds.
  ahead.reset(); // stops reading before the tail closes
  stats.fetcher_wakes = tail.fetcher_wakes();
  auto closing = std::async(std::launch::async, [&tail] { tail.close(); });
  if (!failure && next > start)
    failure = store.checkpoint(next, true);
  if (!failure && next > start)
    failure = store.restore_done();
  if (stats.records > 0 && !failure)
    report(job, where, stats, start, next, started, true);
  closing.get();
  if (failure)
    return failure;
  stats.seconds = std::chrono::duration<double>(clock_type::now() - started).count();
  return stats;
}

} // namespace mephisto::kafka
