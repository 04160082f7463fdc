#include "mephisto/kafka/changelog_restore.hpp"

#include <cstdio>
#include <optional>

#include <unistd.h>
#include <vector>

#include "mephisto/log.hpp"

namespace mephisto::kafka {

using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

namespace {

/// (low, high) watermarks of the changelog partition.
expected<std::pair<int64_t, int64_t>> watermarks(rd_kafka_t* rk, const restore_job& job) {
  int64_t lo = 0;
  int64_t hi = 0;
  auto deadline = clock_type::now() + job.stall_timeout;
  for (;;) {
    auto err = rd_kafka_query_watermark_offsets(rk, job.changelog.c_str(), job.partition, &lo,
                                                &hi, 5000);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
      return std::make_pair(lo, hi);
    if (clock_type::now() >= deadline || (job.cancel && job.cancel->load()))
      return make_error(errc::recovery_failed,
                        "table " + job.table + ": cannot read the high watermark of "
                          + job.changelog + " [" + std::to_string(job.partition)
                          + "]: " + rd_kafka_err2str(err));
  }
}

expected<int64_t> high_watermark(rd_kafka_t* rk, const restore_job& job) {
  auto wm = watermarks(rk, job);
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

} // namespace

expected<restore_stats> restore_changelog(const restore_job& job, store_base& store) {
  auto started = clock_type::now();
  auto conf = make_conf({
    {"bootstrap.servers", job.bootstrap},
    {"client.id", "mephisto-restore"},
    // assign() needs a group id; this consumer never joins the group nor commits.
    {"group.id", "mephisto-restore-" + job.changelog},
    {"enable.auto.commit", "false"},
    {"enable.partition.eof", "true"},  // ends a restore whose last offsets hold no record
    {"auto.offset.reset", "earliest"},
    {"isolation.level", "read_committed"},
    {"fetch.wait.max.ms", "50"},
    {"queued.min.messages", "100000"},
    {"max.partition.fetch.bytes", "33554432"},
    {"fetch.max.bytes", "67108864"},
  });
  if (!conf)
    return conf.error();
  auto rk = make_handle(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!rk)
    return rk.error();
  auto where = job.changelog + " [" + std::to_string(job.partition) + "]";
  restore_stats stats;
  auto wm = watermarks(rk->get(), job);
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
  if (start >= high) {
    rd_kafka_consumer_close(rk->get());
    return stats;
  }
  auto parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, job.changelog.c_str(), job.partition)->offset
    = start > 0 ? start : RD_KAFKA_OFFSET_BEGINNING;
  auto aerr = rd_kafka_assign(rk->get(), parts);
  rd_kafka_topic_partition_list_destroy(parts);
  if (aerr != RD_KAFKA_RESP_ERR_NO_ERROR)
    return make_error(errc::recovery_failed, where + ": assign: " + rd_kafka_err2str(aerr));
  queue_ptr q{rd_kafka_queue_get_consumer(rk->get())};
  std::vector<rd_kafka_message_t*> buf(1000);
  std::string why;
  int64_t next = start; // next offset expected
  int64_t checkpointed = start;
  auto last_progress = clock_type::now();
  auto last_report = clock_type::now();
  caf::error failure;
  while (next < stats.high_watermark && !failure) {
    if (job.cancel && job.cancel->load())
      return make_error(errc::recovery_failed, where + ": cancelled");
    // Take what is there without waiting; only an empty queue waits, and then for one
    // record: a batch read with a timeout waits the whole timeout for a full batch.
    auto n = rd_kafka_consume_batch_queue(q.get(), 0, buf.data(), buf.size());
    if (n == 0)
      n = rd_kafka_consume_batch_queue(q.get(), 100, buf.data(), 1);
    for (ssize_t i = 0; i < n; ++i) {
      auto* m = buf[i];
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        next = std::max(next, m->offset);
      } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (!failure)
          failure = make_error(errc::recovery_failed,
                               where + ": " + rd_kafka_message_errstr(m));
      } else if (!failure) {
        std::string_view key{static_cast<const char*>(m->key), m->key_len};
        std::optional<std::string_view> value;
        if (m->payload != nullptr)
          value.emplace(static_cast<const char*>(m->payload), m->len);
        if (!store.restore(key, value, why))
          failure = make_error(errc::recovery_failed,
                               where + " offset " + std::to_string(m->offset)
                                 + ": the table cannot decode the record: " + why);
        ++stats.records;
        next = m->offset + 1;
      }
      rd_kafka_message_destroy(m);
    }
    auto now = clock_type::now();
    if (n > 0) {
      last_progress = now;
    } else if (now - last_progress > job.stall_timeout) {
      // No progress: maybe the high watermark moved back (truncation) or the broker is gone.
      auto again = high_watermark(rk->get(), job);
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
    if (now - last_report > std::chrono::seconds(1) && stats.high_watermark > 0) {
      last_report = now;
      report(job, where, stats, start, next, started, false);
    }
    // A durable store keeps what it has so far: a restart resumes from there.
    if (!failure && next - checkpointed >= 100000) {
      failure = store.checkpoint(next, false);
      checkpointed = next;
    }
  }
  if (!failure && next > start)
    failure = store.checkpoint(next, true);
  if (!failure && next > start)
    failure = store.restore_done();
  if (stats.records > 0 && !failure)
    report(job, where, stats, start, next, started, true);
  q.reset();
  rd_kafka_consumer_close(rk->get());
  if (failure)
    return failure;
  stats.seconds = std::chrono::duration<double>(clock_type::now() - started).count();
  return stats;
}

} // namespace mephisto::kafka
