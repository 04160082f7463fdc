#include "web/metrics_page.hpp"

#include <limits>
#include <sstream>
#include <vector>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "mephisto/rocksdb_store.hpp"

namespace mephisto::web {

readiness check_readiness(const worker_stats& s, bool serving) {
  readiness r;
  r.assigned = s.assigned.load(std::memory_order_relaxed);
  r.running = s.running_pipelines.load(std::memory_order_relaxed);
  r.restore_remaining = s.restore_remaining.total();
  if (!serving)
    r.reason = "the worker is not running";
  else if (!s.joined.load(std::memory_order_relaxed))
    r.reason = "joining the consumer group";
  else if (s.rebalancing.load(std::memory_order_relaxed))
    r.reason = "rebalancing";
  else if (r.running < r.assigned)
    r.reason = "recovering: " + std::to_string(r.running) + " of " + std::to_string(r.assigned)
               + " assigned partitions processing, " + std::to_string(r.restore_remaining)
               + " changelog records left to restore";
  else
    r.ready = true;
  return r;
}

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

/// Builds the families of one page, every series labelled with the app.
class page_builder {
public:
  explicit page_builder(std::string app) : app_(std::move(app)) {
  }

  void counter(const char* name, const char* help, double value) {
    family(name, help, MetricType::Counter).metric.push_back(series({}));
    families_.back().metric.back().counter.value = value;
  }

  void gauge(const char* name, const char* help, double value) {
    family(name, help, MetricType::Gauge).metric.push_back(series({}));
    families_.back().metric.back().gauge.value = value;
  }

  /// A gauge per topic partition.
  void partition_gauge(const char* name, const char* help, const partition_gauges& g) {
    auto& f = family(name, help, MetricType::Gauge);
    for (auto& e : g.read()) {
      f.metric.push_back(series({{"topic", e.topic}, {"partition", std::to_string(e.partition)}}));
      f.metric.back().gauge.value = static_cast<double>(e.value);
    }
  }

  void histogram(const char* name, const char* help, const duration_histogram& h) {
    auto snap = h.read();
    auto& f = family(name, help, MetricType::Histogram);
    f.metric.push_back(series({}));
    auto& out = f.metric.back().histogram;
    out.sample_count = snap.total;
    out.sample_sum = snap.sum_seconds;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < duration_histogram::bucket_count; ++i) {
      cumulative += snap.counts[i];
      auto bound = i < duration_histogram::bounds_seconds.size()
                     ? duration_histogram::bounds_seconds[i]
                     : std::numeric_limits<double>::infinity();
      out.bucket.push_back({cumulative, bound});
    }
  }

  MetricFamily& family(const char* name, const char* help, MetricType type) {
    families_.push_back({name, help, type, {}});
    return families_.back();
  }

  ClientMetric series(std::vector<ClientMetric::Label> labels) const {
    ClientMetric m;
    m.label.push_back({"app", app_});
    m.label.insert(m.label.end(), labels.begin(), labels.end());
    return m;
  }

  std::string text() const {
    std::ostringstream out;
    prometheus::TextSerializer{}.Serialize(out, families_);
    return out.str();
  }

private:
  std::string app_;
  std::vector<MetricFamily> families_;
};

template <class T>
double value(const std::atomic<T>& x) {
  return static_cast<double>(x.load(std::memory_order_relaxed));
}

} // namespace

std::string metrics_page(worker_stats& s, const topology& topo, const rocksdb_env* rocks,
                         bool serving) {
  page_builder p{topo.app_id};
  p.counter("mephisto_events_total", "Events processed by the worker's agents.", value(s.events));
  auto& per_agent = p.family("mephisto_agent_events_total", "Events processed per agent.",
                             MetricType::Counter);
  for (size_t i = 0; i < topo.agents.size() && i < s.agent_events.size(); ++i) {
    per_agent.metric.push_back(p.series({{"agent", topo.agents[i].name}}));
    per_agent.metric.back().counter.value = value(s.agent_events[i]);
  }
  p.counter("mephisto_batches_total", "Batches processed by agents.", value(s.batches));
  p.counter("mephisto_sent_total", "Records agents sent to topics.", value(s.sent));
  p.counter("mephisto_decode_errors_total", "Events whose key or value could not be decoded.",
            value(s.decode_errors));
  p.counter("mephisto_failures_total", "Events whose agent function failed on every attempt.",
            value(s.failures));
  p.counter("mephisto_retries_total", "Retries of agent functions that threw.", value(s.retries));
  p.counter("mephisto_dead_letters_total", "Events sent to the dead-letter topic.",
            value(s.dead_letters));
  p.counter("mephisto_late_events_total",
            "Events too late for every window of a windowed table (past the grace period).",
            value(s.late_events));
  p.counter("mephisto_windows_closed_total", "Windows of windowed tables closed.",
            value(s.windows_closed));
  p.counter("mephisto_produce_errors_total", "Records the broker did not take.",
            value(s.produce_errors));
  p.counter("mephisto_restarts_total", "Partition pipelines restarted after a failure.",
            value(s.restarts));
  p.counter("mephisto_store_errors_total",
            "Table reads that found the local store corrupt (it is rebuilt from the changelog).",
            value(s.store_errors));
  p.counter("mephisto_commits_total", "Offset commits (exactly-once: transactions committed).",
            value(s.commits));
  p.counter("mephisto_aborts_total", "Transactions aborted (exactly-once).", value(s.aborts));
  p.counter("mephisto_rebalances_total", "Partition assignments received from the group.",
            value(s.rebalances));
  p.gauge("mephisto_assigned_partitions", "Source partitions assigned to this worker.",
          value(s.assigned));
  p.gauge("mephisto_running_partitions", "Assigned partitions whose pipeline is processing.",
          value(s.running_pipelines));
  p.gauge("mephisto_ready", "1 when /ready answers 200.", check_readiness(s, serving).ready ? 1 : 0);
  p.partition_gauge("mephisto_consumer_lag",
                    "Records of a source partition not processed yet: high watermark - "
                    "processed position.",
                    s.consumer_lag);
  p.partition_gauge("mephisto_restore_remaining_records",
                    "Changelog records a table partition's restore still has to read.",
                    s.restore_remaining);
  p.counter("mephisto_restored_records_total", "Changelog records restored into tables.",
            value(s.restored_records));
  p.gauge("mephisto_standby_partitions", "Table partitions kept warm here for others.",
          value(s.standby_partitions));
  p.counter("mephisto_standby_records_total", "Changelog records applied to standby copies.",
            value(s.standby_records));
  p.counter("mephisto_global_records_total",
            "Records of global tables' topics applied to them.", value(s.global_records));
  p.counter("mephisto_global_skipped_total",
            "Records of global tables' topics their codecs refused (skipped).",
            value(s.global_skipped));
  p.counter("mephisto_standby_handovers_total", "Standby copies taken over by a local shard.",
            value(s.standby_handovers));
  p.gauge("mephisto_standby_lag_records",
          "Changelog records the furthest-behind standby copy lacks.", value(s.standby_lag));
  p.gauge("mephisto_agent_mailbox_peak",
          "Largest mailbox an agent found when it took a batch, since the previous scrape.",
          static_cast<double>(s.read_mailbox_peak()));
  p.histogram("mephisto_batch_duration_seconds",
              "An agent's batch: from taking it to handing its records to the producer.",
              s.batch_duration);
  p.histogram("mephisto_event_latency_seconds",
              "End-to-end latency of each event: processed time - its Kafka timestamp.",
              s.event_latency);
  p.histogram("mephisto_commit_duration_seconds",
              "An offset commit, or under exactly-once a transaction commit.", s.commit_duration);
  p.histogram("mephisto_rebalance_duration_seconds",
              "One rebalance step: revoking (drain, commit) or assigning partitions.",
              s.rebalance_duration);
  if (rocks != nullptr) {
    p.gauge("mephisto_rocksdb_block_cache_bytes", "Bytes in RocksDB's shared block cache.",
            static_cast<double>(rocks->block_cache_bytes()));
    p.gauge("mephisto_rocksdb_memtable_bytes", "Bytes in RocksDB's memtables.",
            static_cast<double>(rocks->memtable_bytes()));
  }
  return p.text();
}

} // namespace mephisto::web
