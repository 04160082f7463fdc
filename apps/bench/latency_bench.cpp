#include "bench_modes.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <boost/json.hpp>

#include "bench_kit.hpp"
#include "colors_runs.hpp"
#include "mephisto/kafka/embedded_broker.hpp"

namespace bench {

namespace {

/// Request counts of one librdkafka client, summed over its broker connections, from its
/// statistics callback (every 100 ms): what the probe's own clients add to the broker's
/// counters, so that a system's share of them can be told apart.
struct request_counts {
  std::mutex mtx;
  std::map<std::string, int64_t> latest;

  static void on_stats_json(const char* json, size_t len, request_counts& rc) {
    boost::system::error_code ec;
    auto v = boost::json::parse(boost::json::string_view{json, len}, ec);
    if (ec || !v.is_object())
      return;
    std::map<std::string, int64_t> sum;
    if (auto* brokers = v.as_object().if_contains("brokers"); brokers && brokers->is_object())
      for (auto& [name, b] : brokers->as_object())
        if (auto* req = b.as_object().if_contains("req"); req && req->is_object())
          for (auto& [type, n] : req->as_object())
            if (n.is_int64())
              sum[std::string{type}] += n.as_int64();
    std::lock_guard<std::mutex> guard{rc.mtx};
    rc.latest = std::move(sum);
  }

  std::map<std::string, int64_t> snapshot() {
    std::lock_guard<std::mutex> guard{mtx};
    return latest;
  }
};

int stats_cb(rd_kafka_t*, char* json, size_t len, void* opaque) {
  request_counts::on_stats_json(json, len, *static_cast<request_counts*>(opaque));
  return 0;
}

/// A client whose statistics (every 100 ms) land in `rc`.
handle_ptr counted_client(rd_kafka_type_t type, const std::string& bootstrap,
                          mephisto::kafka::settings extra, request_counts& rc) {
  extra.emplace_back("bootstrap.servers", bootstrap);
  extra.emplace_back("statistics.interval.ms", "100");
  auto conf = mephisto::kafka::make_conf(extra);
  if (!conf)
    throw std::runtime_error(mephisto::render(conf.error()));
  rd_kafka_conf_set_stats_cb(conf->get(), stats_cb);
  rd_kafka_conf_set_opaque(conf->get(), &rc);
  auto rk = mephisto::kafka::make_handle(type, std::move(*conf));
  if (!rk)
    throw std::runtime_error(mephisto::render(rk.error()));
  return std::move(*rk);
}

int64_t now_us() {
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

/// The fixed-rate feeder: color words into `input`, `rate` per second, in bursts of
/// rate / 500 records every 2 ms, one partition per burst (round robin), each burst one
/// rd_kafka_produce_batch call, so with linger.ms=0 a burst is one produce request and
/// CreateTime is the moment it was handed to the client. Its request rate (about 500/s)
/// does not depend on the system under test, and it does not collapse when the broker is
/// busy: a burst that finds the previous one still queued simply joins it.
class feeder {
public:
  feeder(const std::string& bootstrap, const std::string& topic, int32_t partitions)
    : partitions_(partitions) {
    rk_ = counted_client(RD_KAFKA_PRODUCER, bootstrap,
                         {{"linger.ms", "0"},
                          {"enable.idempotence", "true"},
                          {"queue.buffering.max.messages", "1000000"}},
                         requests);
    rkt_ = rd_kafka_topic_new(rk_.get(), topic.c_str(), nullptr);
  }
  ~feeder() {
    stop();
    rd_kafka_flush(rk_.get(), 10000);
    rd_kafka_topic_destroy(rkt_);
  }

  /// Feeds at `rate` from now on, on a thread of its own, until stop().
  void start(int rate) {
    running_ = true;
    thread_ = std::thread{[this, rate] {
      static const char* colors[] = {"red", "green", "blue"};
      constexpr auto tick = milliseconds(2);
      auto start = steady_clock::now();
      std::vector<rd_kafka_message_t> batch;
      for (int64_t t = 1; running_.load(std::memory_order_relaxed); ++t) {
        std::this_thread::sleep_until(start + t * tick);
        auto sent = sent_.load(std::memory_order_relaxed);
        auto due = t * duration_cast<microseconds>(tick).count() * rate / 1'000'000 - sent;
        batch.assign(static_cast<size_t>(due), rd_kafka_message_t{});
        for (auto& m : batch) {
          auto w = colors[(sent + (&m - batch.data())) % 3];
          m.payload = const_cast<char*>(w);
          m.len = std::strlen(w);
        }
        auto partition = static_cast<int32_t>(t % partitions_);
        auto n = rd_kafka_produce_batch(rkt_, partition, RD_KAFKA_MSG_F_COPY, batch.data(),
                                        static_cast<int>(batch.size()));
        sent_.store(sent + n, std::memory_order_relaxed);
        rd_kafka_poll(rk_.get(), 0);
      }
    }};
  }
  void stop() {
    running_ = false;
    if (thread_.joinable())
      thread_.join();
  }
  int64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  /// Records handed to the client and not yet acknowledged.
  int queued() { return rd_kafka_outq_len(rk_.get()); }

  request_counts requests;

private:
  int32_t partitions_;
  handle_ptr rk_;
  rd_kafka_topic_t* rkt_ = nullptr;
  std::atomic<bool> running_{false};
  std::thread thread_;
  std::atomic<int64_t> sent_{0}; // written by the feeding thread only
};

/// Reads `topics` from their ends (all partitions) and takes now - CreateTime per record.
class output_probe {
public:
  output_probe(const std::string& bootstrap, const std::vector<std::string>& topics,
               int32_t partitions)
    : topics_(topics) {
    rk_ = counted_client(RD_KAFKA_CONSUMER, bootstrap,
                         {{"group.id", "latency-probe-" + std::to_string(::getpid())},
                          {"enable.auto.commit", "false"},
                          {"fetch.wait.max.ms", "100"}},
                         requests);
    rd_kafka_poll_set_consumer(rk_.get()); // statistics come with the records
    auto parts = rd_kafka_topic_partition_list_new(partitions);
    for (auto& topic : topics)
      for (int32_t p = 0; p < partitions; ++p)
        rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_assign(rk_.get(), parts);
    rd_kafka_topic_partition_list_destroy(parts);
  }
  ~output_probe() { rd_kafka_consumer_close(rk_.get()); }

  /// Polls up to `timeout`; the latency in ms of every record stamped at or after
  /// `since_ms` goes to `out` (the first topic's) or `others` (one per other topic, when
  /// given). Returns the records of the first topic seen (any stamp).
  size_t poll(milliseconds timeout, int64_t since_ms, std::vector<double>& out,
              std::vector<std::vector<double>>* others = nullptr) {
    size_t seen = 0;
    auto m = rd_kafka_consumer_poll(rk_.get(), static_cast<int>(timeout.count()));
    if (m == nullptr)
      return 0;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      auto ts = rd_kafka_message_timestamp(m, nullptr);
      auto ms = static_cast<double>(now_us() - ts * 1000) / 1000.0;
      auto i = std::find(topics_.begin(), topics_.end(), rd_kafka_topic_name(m->rkt))
               - topics_.begin();
      if (i == 0) {
        ++seen;
        if (ts >= since_ms)
          out.push_back(ms);
      } else if (others != nullptr && ts >= since_ms) {
        others->resize(topics_.size() - 1);
        (*others)[i - 1].push_back(ms);
      }
    }
    rd_kafka_message_destroy(m);
    return seen;
  }

  request_counts requests;

private:
  std::vector<std::string> topics_;
  handle_ptr rk_;
};

std::map<std::string, int64_t> minus(std::map<std::string, int64_t> a,
                                     const std::map<std::string, int64_t>& b) {
  for (auto& [k, v] : b)
    a[k] -= v;
  return a;
}

std::map<std::string, int64_t> plus(std::map<std::string, int64_t> a,
                                    const std::map<std::string, int64_t>& b) {
  for (auto& [k, v] : b)
    a[k] += v;
  return a;
}

struct latency_run {
  std::vector<double> ms;           ///< sorted latencies of the measured window
  int64_t fed = 0;                  ///< records fed in the window
  int unsent = 0;                   ///< feeder records still unacknowledged when it stopped
  double window_s = 0;              ///< the measured feeding time
  std::map<std::string, int64_t> probe_requests; ///< the feeder's and the probe's, in the window
  std::vector<std::vector<double>> others; ///< sorted latencies of the other topics

  static double pct(const std::vector<double>& xs, double q) {
    return xs.empty() ? -1 : xs[static_cast<size_t>(q * static_cast<double>(xs.size() - 1))];
  }

  double pct(double q) const {
    return ms.empty() ? -1 : ms[static_cast<size_t>(q * static_cast<double>(ms.size() - 1))];
  }
};

/// Feeds `input` at `rate` and measures `output`: a warm-up until the first output arrives
/// and `warmup_s` more at the rate, then the window of `seconds` (on_mark("start") and
/// on_mark("end") at its edges, for counters read outside), then up to 30 s for the
/// window's outputs to arrive.
template <class OnMark>
latency_run measure_latency(const std::string& bootstrap, const std::vector<std::string>& outputs,
                            int rate, int seconds, int warmup_s, OnMark on_mark) {
  output_probe probe{bootstrap, outputs, colors_partitions};
  feeder feed{bootstrap, "input", colors_partitions};
  std::vector<double> ignored;
  feed.start(rate);
  auto give_up = steady_clock::now() + 120s;
  while (probe.poll(100ms, 0, ignored) == 0)
    if (steady_clock::now() > give_up)
      throw std::runtime_error("no output within 120 s of feeding");
  for (auto until = steady_clock::now() + warmup_s * 1s; steady_clock::now() < until;)
    probe.poll(10ms, 0, ignored);
  latency_run run;
  run.ms.reserve(static_cast<size_t>(rate) * seconds + 1000);
  auto window_start_ms = now_us() / 1000 + 1; // records stamped from the next ms on
  while (now_us() / 1000 < window_start_ms)
    probe.poll(1ms, 0, ignored);
  auto fed_before = feed.sent();
  auto probe_before = plus(feed.requests.snapshot(), probe.requests.snapshot());
  on_mark("start");
  auto t0 = steady_clock::now();
  for (auto until = t0 + seconds * 1s; steady_clock::now() < until;)
    probe.poll(10ms, window_start_ms, run.ms, &run.others);
  run.window_s = duration<double>(steady_clock::now() - t0).count();
  on_mark("end");
  auto probe_after = plus(feed.requests.snapshot(), probe.requests.snapshot());
  run.probe_requests = minus(probe_after, probe_before);
  feed.stop();
  run.unsent = feed.queued();
  // The window's records: fed from window_start_ms to the stop; wait for them (at most 30 s).
  run.fed = feed.sent() - fed_before;
  auto deadline = steady_clock::now() + 30s;
  while (static_cast<int64_t>(run.ms.size()) < run.fed && steady_clock::now() < deadline)
    probe.poll(100ms, window_start_ms, run.ms, &run.others);
  std::sort(run.ms.begin(), run.ms.end());
  for (auto& xs : run.others)
    std::sort(xs.begin(), xs.end());
  return run;
}

} // namespace

/// End-to-end latency of the colors pipeline at a fixed input rate, in this process: color
/// words are produced at `rate` per second (CreateTime = send time), the pipeline stamps
/// its outputs with their input's time, and a consumer of `output` takes now - timestamp.
int latency_bench(const std::string& url, int rate, int seconds, int threads, int linger_ms) {
  auto id = "colors-latency-" + std::to_string(::getpid());
  std::unique_ptr<mephisto::kafka::embedded_broker> embedded;
  auto bootstrap = connect(url, embedded, colors_topics(id));
  // A new group starts at the earliest offset: commit the end of `input` for it first, so
  // that it does not work through what earlier runs left there.
  {
    auto rk = client(RD_KAFKA_CONSUMER, bootstrap, {{"group.id", id}});
    auto offsets = rd_kafka_topic_partition_list_new(colors_partitions);
    for (int32_t p = 0; p < colors_partitions; ++p) {
      int64_t lo = 0;
      int64_t hi = 0;
      if (rd_kafka_query_watermark_offsets(rk.get(), "input", p, &lo, &hi, 10000) != 0)
        throw std::runtime_error("cannot read the end offsets of input");
      rd_kafka_topic_partition_list_add(offsets, "input", p)->offset = hi;
    }
    auto err = rd_kafka_commit(rk.get(), offsets, 0);
    rd_kafka_topic_partition_list_destroy(offsets);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      throw std::runtime_error(std::string{"cannot commit the end of input: "}
                               + rd_kafka_err2str(err));
    rd_kafka_consumer_close(rk.get());
  }
  auto w = start_colors("kafka://" + bootstrap, id, threads, linger_ms);
  auto run = measure_latency(bootstrap, {"output"}, rate, seconds, 2, [](const char*) {});
  w->stop();
  w->wait();
  if (run.ms.empty())
    throw std::runtime_error("no output arrived");
  std::printf("latency at %d msgs/s for %d s (%s, linger.ms=%d, %zu of %lld outputs): "
              "p50 %.1f ms, p99 %.1f ms, max %.1f ms (target p99 <= 10 ms)\n",
              rate, seconds, url == "embedded" ? "embedded broker" : url.c_str(), linger_ms,
              run.ms.size(), static_cast<long long>(run.fed), run.pct(0.5), run.pct(0.99),
              run.ms.back());
  return 0;
}

/// --latency-probe: feeds `input` and measures `output_topic` of a system that runs in
/// another process (bench/latency.py); prints "mark start" and "mark end" at the edges of
/// the measured window (flushed at once: the caller reads the broker's request counters
/// there), then one JSON line with the result.
int latency_probe(const std::string& url, const std::string& output_topic, int rate,
                  int seconds, int warmup_s) {
  auto bootstrap = mephisto::kafka::parse_broker_url(url);
  if (!bootstrap)
    throw std::runtime_error(mephisto::render(bootstrap.error()));
  std::vector<std::string> topics;
  for (size_t pos = 0; pos <= output_topic.size();) {
    auto end = std::min(output_topic.find(',', pos), output_topic.size());
    topics.push_back(output_topic.substr(pos, end - pos));
    pos = end + 1;
  }
  auto run = measure_latency(*bootstrap, topics, rate, seconds, warmup_s,
                             [](const char* what) {
                               std::printf("mark %s\n", what);
                               std::fflush(stdout);
                             });
  boost::json::object out;
  out["outputs"] = run.ms.size();
  out["fed"] = run.fed;
  out["unsent"] = run.unsent;
  out["window_s"] = run.window_s;
  out["p50_ms"] = run.pct(0.5);
  out["p99_ms"] = run.pct(0.99);
  out["max_ms"] = run.ms.empty() ? -1.0 : run.ms.back();
  boost::json::object req;
  for (auto& [k, v] : run.probe_requests)
    if (v != 0)
      req[k] = v;
  out["probe_requests"] = std::move(req);
  // Other topics given (an internal topic, say): how far records got by then.
  for (size_t i = 0; i < run.others.size(); ++i)
    out[topics[i + 1]] = {{"records", run.others[i].size()},
                          {"p50_ms", latency_run::pct(run.others[i], 0.5)},
                          {"p99_ms", latency_run::pct(run.others[i], 0.99)}};
  std::printf("%s\n", boost::json::serialize(out).c_str());
  return 0;
}

} // namespace bench
