// mephisto-bench --failover --broker kafka://HOST:PORT: the failover pause.
//
// What is measured: the time from `kill -9` of one of two worker processes until each
// partition it owned produces output again on the survivor, with and without standby
// replicas (`table_standby_replicas` 0 and 1), for memory and RocksDB stores, on a real
// broker. It is detection (the survivor learns of the death only when the group
// coordinator expires the dead member: the session timeout, 10 s after the dead worker's
// last heartbeat, seen at the survivor's next heartbeat; heartbeats every 1 s, so 9-11 s
// after the kill) plus the rebalance and the recovery of the moved table partitions.
// Standby copies can shorten only the part after the survivor's assignment, which is
// therefore printed on its own; the totals of two variants also differ by the heartbeat
// phases.
//
// How, per variant (fresh app id, so fresh topics, changelog and consumer group):
//  1. topics <id>-events and <id>-counts-out (8 partitions); counts-out keeps the broker's
//     append time (message.timestamp.type=LogAppendTime): Mephisto stamps an output with
//     its input's time, which after a failover is the time of a replayed input, so the
//     producer's CreateTime would not tell when the survivor produced it;
//  2. worker A, then worker B joining A's cluster: this program re-executed with the hidden
//     `--failover-worker` (a keyed counter: events -> table counts -> counts-out), logs in
//     a temp dir; the split is read from their `assigned:` log lines;
//  3. preload: `records` events over `keys` keys, so the changelog is large; wait until
//     counts-out holds an output per event, then (standbys) until B's log says it keeps
//     copies of exactly A's partitions, and `settle_seconds` more for them to catch up
//     (what they lacked at the handover shows as changelog records restored after the kill);
//  4. a trickle of `rate` events/s over all keys (every partition busy), a consumer of
//     counts-out from its end; after 3 s, SIGKILL A at T0;
//  5. per partition, the longest silence of counts-out after T0 (T0 counts as a record):
//     for A's partitions it ends with the survivor's first output: the pause is its end
//     - T0; B's own partitions stall too, in the eager rebalance (revoke, then recover);
//  6. B's log after T0: when it was revoked and assigned, the changelog records it
//     recovered, the standby copies it took over;
//  7. the trickle stops, B finishes and stops (SIGTERM); counts-out is read in full and
//     every key's highest running count compared with the events sent for it (below: lost
//     state, a bug; above: at-least-once replays after the kill).
// The session timeout is the group consumer's session.timeout.ms (actors/src/worker.cpp),
// not an option: it is printed, not measured.

#include "failover.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

#include <mephisto/mephisto.hpp>

#include "bench_kit.hpp"
#include "keyed_events.hpp"
#include "worker_process.hpp"
#include "mephisto/kafka/admin.hpp"

namespace bench {

namespace {

namespace fs = std::filesystem;

constexpr int32_t partitions = 8;
constexpr int session_timeout_s = 10; // session.timeout.ms in actors/src/worker.cpp
constexpr int64_t warm_trickle_ms = 3000;
constexpr seconds resume_timeout{120};

/// `s` seconds with `digits` decimals, "n/a" when negative (not measured).
std::string seconds_text(double s, int digits = 1) {
  if (s < 0)
    return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f s", digits, s);
  return buf;
}

int64_t now_ms() {
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// Partitions of `topic` a worker holds according to its log: `assigned:` lines add theirs,
/// `revoked:` lines take theirs away (cooperative rebalances move only some). Nullopt
/// before its first assignment.
std::optional<std::set<int32_t>> last_assignment(const std::string& log, const std::string& topic) {
  std::optional<std::set<int32_t>> found;
  for (auto& l : read_log(log)) {
    bool add = l.text.find("assigned: ") != std::string::npos;
    auto at = l.text.find(add ? "assigned: " : "revoked: ");
    if (at == std::string::npos)
      continue;
    if (!found)
      found.emplace();
    for (auto p = l.text.find(topic + "[", at); p != std::string::npos;
         p = l.text.find(topic + "[", p + 1)) {
      auto partition = static_cast<int32_t>(std::stol(l.text.substr(p + topic.size() + 1)));
      if (add)
        found->insert(partition);
      else
        found->erase(partition);
    }
  }
  return found;
}

std::string listing(const std::set<int32_t>& parts) {
  std::string out;
  for (auto p : parts)
    out += (out.empty() ? "" : " ") + std::to_string(p);
  return out;
}

struct variant_result {
  std::string store;
  int standby = 0;
  std::set<int32_t> moved;           ///< A's partitions
  std::vector<double> pauses;        ///< per moved partition: kill -> first output on B, s
  double own_stall = 0;              ///< longest silence of B's own partitions after the kill
  double revoked_at = -1;            ///< B's `revoked:` after the kill, s after it
  double assigned_at = -1;           ///< B's `assigned:` after the kill
  int64_t restored = 0;              ///< changelog records B recovered after the kill
  int recoveries = 0;
  double longest_recovery = 0;
  int handovers = 0;                 ///< standby copies B took over
  std::vector<std::string> problems;
  std::vector<std::string> warnings; ///< B's first warnings after the kill

  double max_pause() const {
    return pauses.empty() ? -1 : *std::max_element(pauses.begin(), pauses.end());
  }
  /// From the survivor's assignment to the last moved partition's first output.
  double after_assignment() const {
    return assigned_at < 0 || pauses.empty() ? -1 : max_pause() - assigned_at;
  }
  double median_pause() const {
    if (pauses.empty())
      return -1;
    auto xs = pauses;
    std::sort(xs.begin(), xs.end());
    auto n = xs.size();
    return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
  }
};

class failover_run {
public:
  failover_run(const failover_options& opts, std::string bootstrap, fs::path dir, std::string id,
               std::string store, int standby)
    : opts_(opts), bootstrap_(std::move(bootstrap)), dir_(std::move(dir)), id_(std::move(id)),
      events_(id_ + "-events"), outputs_(id_ + "-counts-out"),
      admin_(client(RD_KAFKA_PRODUCER, bootstrap_, {})),
      sent_(static_cast<size_t>(opts.keys), 0) {
    result_.store = std::move(store);
    result_.standby = standby;
    tag_ = "[" + result_.store + " standby=" + std::to_string(standby) + "]";
  }
  ~failover_run() {
    a_.reset();
    b_.reset();
    delete_topics(admin_.get(), id_ + "-");
    for (auto* w : {"a", "b"})
      fs::remove_all(dir_ / (id_ + "-" + w + "-store"));
  }

  variant_result run() {
    create_topic(admin_.get(), events_, partitions, {});
    create_topic(admin_.get(), outputs_, partitions,
                 {{"message.timestamp.type", "LogAppendTime"}});
    start_workers();
    preload();
    watch_failover();
    finish();
    return result_;
  }

private:
  void note(const std::string& what) {
    std::printf("  %s %s\n", tag_.c_str(), what.c_str());
    std::fflush(stdout);
  }

  /// Polls `ready` every 100 ms; fails naming `what` after `timeout` or when a worker died.
  void wait_for(const std::string& what, seconds timeout, const std::function<bool()>& ready) {
    for (auto until = steady_clock::now() + timeout; !ready();) {
      for (auto* w : {a_.get(), b_.get()})
        if (w != nullptr && w != killed_ && !w->running())
          throw std::runtime_error(tag_ + " a worker ended (" + w->how_it_ended() + ") while "
                                   + "waiting for " + what + "; " + w->log() + ":"
                                   + log_tail(w->log()));
      if (steady_clock::now() > until) {
        std::string tails;
        for (auto* w : {a_.get(), b_.get()})
          if (w != nullptr)
            tails += "\n  " + w->log() + ":" + log_tail(w->log());
        throw std::runtime_error(tag_ + " no " + what + " within "
                                 + std::to_string(timeout.count()) + " s" + tails);
      }
      std::this_thread::sleep_for(100ms);
    }
  }

  std::unique_ptr<worker_process> spawn(const std::string& name, const std::string& seeds) {
    std::string store = "memory://";
    if (result_.store == "rocksdb")
      store = "rocksdb://" + (dir_ / (id_ + "-" + name + "-store")).string();
    std::vector<std::string> args{"mephisto-bench", "--failover-worker", id_, "worker",
                                  "--broker", "kafka://" + bootstrap_, "--id", id_,
                                  "--store", store, "--table_standby_replicas",
                                  std::to_string(result_.standby), "--cluster_secret",
                                  "failover-bench"};
    if (!seeds.empty()) {
      args.push_back("--cluster_seeds");
      args.push_back(seeds);
    }
    return std::make_unique<worker_process>(args, (dir_ / (id_ + "-" + name + ".log")).string());
  }

  void start_workers() {
    a_ = spawn("a", "");
    std::string a_address;
    wait_for("cluster address of A", 60s, [&] {
      for (auto& l : read_log(a_->log())) {
        auto at = l.text.find("cluster: listening on ");
        if (at != std::string::npos) {
          a_address = l.text.substr(at + 22);
          a_address = a_address.substr(0, a_address.find_first_of(", "));
          return true;
        }
      }
      return false;
    });
    wait_for("assignment of A", 60s,
             [&] { return last_assignment(a_->log(), events_).has_value(); });
    b_ = spawn("b", a_address);
    std::set<int32_t> a_parts;
    std::set<int32_t> b_parts;
    wait_for("split of the partitions between A and B", 90s, [&] {
      auto a = last_assignment(a_->log(), events_);
      auto b = last_assignment(b_->log(), events_);
      if (!a || !b || a->empty() || b->empty())
        return false;
      std::set<int32_t> both = *a;
      both.insert(b->begin(), b->end());
      a_parts = *a;
      b_parts = *b;
      return both.size() == static_cast<size_t>(partitions) && a->size() + b->size() == both.size();
    });
    result_.moved = a_parts;
    note("A (cluster " + a_address + ") owns " + listing(a_parts) + ", B owns "
         + listing(b_parts));
  }

  void preload() {
    auto start = steady_clock::now();
    {
      auto rk = client(RD_KAFKA_PRODUCER, bootstrap_, keyed_producer_settings());
      auto rkt = rd_kafka_topic_new(rk.get(), events_.c_str(), nullptr);
      for (int64_t i = 0; i < opts_.records; ++i)
        produce_event(rk.get(), rkt, sent_, i % opts_.keys);
      flush_or_throw(rk.get(), "preload");
      rd_kafka_topic_destroy(rkt);
    }
    wait_for("output for every preloaded event", 300s, [&] {
      return records_in(admin_.get(), outputs_, partitions) >= opts_.records;
    });
    note("preload: " + std::to_string(opts_.records) + " events over "
         + std::to_string(opts_.keys) + " keys processed in "
         + seconds_text(duration<double>(steady_clock::now() - start).count()));
    if (result_.standby > 0) {
      // B logs the partitions it keeps warm when they change: A's, once the cluster placed
      // them. (A keeps B's from its own revoke and says so only then.)
      wait_for("standby copies of A's partitions on B", 60s, [&] {
        std::set<int32_t> kept;
        for (auto& l : read_log(b_->log())) {
          auto at = l.text.find("standby: ");
          if (at == std::string::npos)
            continue;
          kept.clear();
          for (auto p = l.text.find("counts [", at); p != std::string::npos;
               p = l.text.find("counts [", p + 1))
            kept.insert(static_cast<int32_t>(std::stol(l.text.substr(p + 8))));
        }
        return kept == result_.moved;
      });
      note("B keeps standby copies of A's partitions; settling "
           + std::to_string(opts_.settle_seconds) + " s for them to catch up");
    }
    std::this_thread::sleep_for(seconds(opts_.settle_seconds));
    note("changelog: " + std::to_string(records_in(admin_.get(), id_ + "-counts-changelog",
                                                    partitions))
         + " records before the kill");
  }

  void watch_failover() {
    output_watch watch{bootstrap_, outputs_, partitions};
    trickle feed{bootstrap_, events_, opts_.rate, sent_};
    std::this_thread::sleep_for(milliseconds(warm_trickle_ms));
    auto b_log_at_kill = log_size(b_->log());
    auto t0 = now_ms();
    a_->kill_now();
    killed_ = a_.get();
    // Done when B was assigned again and every partition produced after that.
    int64_t assigned_ms = -1;
    wait_for("output on every partition after the failover", resume_timeout, [&] {
      if (assigned_ms < 0)
        for (auto& l : read_log(b_->log(), b_log_at_kill))
          if (l.text.find("assigned: ") != std::string::npos) {
            assigned_ms = l.ms;
            break;
          }
      if (assigned_ms < 0)
        return false;
      auto times = watch.times();
      return std::all_of(times.begin(), times.end(),
                         [&](auto& ts) { return !ts.empty() && ts.back() > assigned_ms; });
    });
    std::this_thread::sleep_for(1s);
    if (watch.wrong_timestamp_type())
      result_.problems.push_back(outputs_ + " records without the broker's append time");
    measure_pauses(watch.times(), t0);
    read_survivor_log(b_log_at_kill, t0);
    feed.stop();
  }

  void measure_pauses(const std::vector<std::vector<int64_t>>& times, int64_t t0) {
    for (int32_t p = 0; p < partitions; ++p) {
      auto& ts = times[static_cast<size_t>(p)];
      bool live = std::any_of(ts.begin(), ts.end(),
                              [&](int64_t t) { return t <= t0 && t > t0 - 1000; });
      if (!live)
        result_.problems.push_back("partition " + std::to_string(p)
                                   + " produced nothing in the second before the kill");
      // The longest silence after the kill, the kill counting as a record.
      int64_t prev = t0;
      int64_t longest = 0;
      int64_t resumed = -1;
      for (auto t : ts) {
        if (t <= t0)
          continue;
        if (t - prev > longest) {
          longest = t - prev;
          resumed = t;
        }
        prev = t;
      }
      bool moved = result_.moved.count(p) > 0;
      if (moved) {
        result_.pauses.push_back(resumed < 0 ? -1 : (resumed - t0) / 1000.0);
        if (resumed >= 0 && resumed - t0 < 1000)
          result_.problems.push_back("moved partition " + std::to_string(p)
                                     + " resumed within 1 s of the kill");
      } else {
        result_.own_stall = std::max(result_.own_stall, longest / 1000.0);
        auto first = std::find_if(ts.begin(), ts.end(), [&](int64_t t) { return t > t0; });
        if (first == ts.end() || *first - t0 > 1000)
          result_.problems.push_back("B's partition " + std::to_string(p)
                                     + " had no output in the first second after the kill");
      }
    }
  }

  void read_survivor_log(std::streamoff from, int64_t t0) {
    for (auto& l : read_log(b_->log(), from)) {
      auto& s = l.text;
      if (result_.revoked_at < 0 && s.find("revoked: ") != std::string::npos)
        result_.revoked_at = (l.ms - t0) / 1000.0;
      if (result_.assigned_at < 0 && s.find("assigned: ") != std::string::npos)
        result_.assigned_at = (l.ms - t0) / 1000.0;
      if (auto n = number_after(s, " recovered: "); n >= 0) {
        result_.restored += n;
        ++result_.recoveries;
        auto in = s.rfind(" in ");
        if (in != std::string::npos)
          result_.longest_recovery = std::max(result_.longest_recovery,
                                              std::stod(s.substr(in + 4)));
      }
      if (s.find("handed over at changelog offset") != std::string::npos)
        ++result_.handovers;
      if (s.find(" error ") != std::string::npos)
        result_.problems.push_back("B logged: " + s);
      else if (s.find(" warning ") != std::string::npos && result_.warnings.size() < 5)
        result_.warnings.push_back(s);
    }
  }

  void finish() {
    auto events = std::accumulate(sent_.begin(), sent_.end(), int64_t{0});
    wait_for("an output for every event", 120s, [&] {
      return records_in(admin_.get(), outputs_, partitions) >= events;
    });
    std::this_thread::sleep_for(1s); // replays may still be on their way
    if (!b_->stop(60s))
      result_.problems.push_back("B did not stop cleanly on SIGTERM (" + b_->how_it_ended()
                                 + ")");
    auto highest = highest_counts(bootstrap_, outputs_, partitions, sent_.size());
    int64_t short_keys = 0;
    int64_t above = 0;
    for (size_t k = 0; k < sent_.size(); ++k) {
      short_keys += highest[k] < sent_[k];
      above += std::max<int64_t>(0, highest[k] - sent_[k]);
    }
    note("counts: " + std::to_string(events) + " events; " + std::to_string(short_keys)
         + " keys with a final count below their events, " + std::to_string(above)
         + " counts above (at-least-once replays after the kill)");
    if (short_keys > 0)
      result_.problems.push_back(std::to_string(short_keys) + " keys lost counts");
  }

  const failover_options& opts_;
  std::string bootstrap_;
  fs::path dir_;
  std::string id_;
  std::string events_;
  std::string outputs_;
  handle_ptr admin_;
  std::vector<int32_t> sent_;
  std::unique_ptr<worker_process> a_;
  std::unique_ptr<worker_process> b_;
  worker_process* killed_ = nullptr;
  variant_result result_;
  std::string tag_;
};


void print_summary(const variant_result& r) {
  std::printf("failover %s standby=%d: pause max %s, median %s (%zu moved partitions; session "
              "timeout %d s); restored %lld changelog records on the survivor, %d standby "
              "handovers\n",
              r.store.c_str(), r.standby, seconds_text(r.max_pause()).c_str(),
              seconds_text(r.median_pause()).c_str(), r.moved.size(), session_timeout_s,
              static_cast<long long>(r.restored), r.handovers);
  std::printf("  survivor: revoked at +%s, assigned at +%s, last moved partition out %s later "
              "(%d table recoveries, longest %s); its own partitions stalled up to %s in the "
              "rebalance\n",
              seconds_text(r.revoked_at, 2).c_str(), seconds_text(r.assigned_at, 2).c_str(),
              seconds_text(r.after_assignment(), 2).c_str(), r.recoveries,
              seconds_text(r.longest_recovery, 2).c_str(), seconds_text(r.own_stall, 2).c_str());
  for (auto& w : r.warnings)
    std::printf("  survivor warned: %s\n", w.c_str());
  for (auto& p : r.problems)
    std::printf("  problem: %s\n", p.c_str());
  std::fflush(stdout);
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs.empty() ? -1 : xs[xs.size() / 2];
}

/// With against without standby replicas, for one store kind (medians over the rounds).
void print_comparison(const std::vector<variant_result>& results, const std::string& store) {
  std::vector<double> pause[2];
  std::vector<double> detection[2];
  std::vector<double> recovery[2];
  std::vector<double> own[2];
  for (auto& r : results)
    if (r.store == store && r.standby <= 1) {
      pause[r.standby].push_back(r.max_pause());
      detection[r.standby].push_back(r.assigned_at);
      recovery[r.standby].push_back(r.after_assignment());
      own[r.standby].push_back(r.own_stall);
    }
  if (pause[0].empty() || pause[1].empty())
    return;
  std::printf("%s%s: with standby replicas the moved partitions resume %.2f s after the "
              "survivor's assignment instead of %.2f s (%.2f s of recovery saved); its own "
              "partitions stall %.2f s instead of %.2f s. Whole pause %.1f s instead of %.1f s, "
              "of which kill -> assignment %.1f s instead of %.1f s (the session timeout "
              "expiring: %d s after the dead worker's last heartbeat, seen at the survivor's "
              "next one; heartbeats every 1 s)\n",
              store.c_str(), pause[0].size() > 1 ? " (medians of the rounds)" : "",
              median(recovery[1]), median(recovery[0]),
              median(recovery[0]) - median(recovery[1]), median(own[1]), median(own[0]),
              median(pause[1]), median(pause[0]), median(detection[1]), median(detection[0]),
              session_timeout_s);
}

} // namespace

int failover_worker(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: mephisto-bench --failover-worker PREFIX worker [options]\n");
    return 2;
  }
  std::string prefix = argv[2];
  mephisto::app app{"failover"};
  auto events = app.topic<std::string, std::string>(prefix + "-events");
  auto out = app.topic<std::string, std::int64_t>(prefix + "-counts-out");
  auto counts = app.table<std::string, std::int64_t>("counts");
  app.agent(
    "count", events,
    [=](const std::string& key, const std::string&, mephisto::context& ctx) {
      auto n = ++ctx[counts][key];
      ctx.send(out, key, n);
    },
    {.tables = {counts}});
  std::vector<char*> args{argv[0]};
  for (int i = 3; i < argc; ++i)
    args.push_back(argv[i]);
  args.push_back(nullptr);
  return app.main(static_cast<int>(args.size()) - 1, args.data());
}

int failover_bench(const failover_options& opts) {
  if (opts.broker.rfind("kafka://", 0) != 0)
    throw std::runtime_error("--failover needs a real broker: --broker kafka://HOST:PORT");
  if (opts.records < 1 || opts.keys < 1 || opts.rate < 1)
    throw std::runtime_error("--records, --keys and --rate must be positive");
  auto bootstrap = mephisto::kafka::parse_broker_url(opts.broker);
  if (!bootstrap)
    throw std::runtime_error(mephisto::render(bootstrap.error()));
  std::string dir_template = (fs::temp_directory_path() / "mephisto-failover-XXXXXX").string();
  if (::mkdtemp(dir_template.data()) == nullptr)
    throw std::runtime_error(std::string{"mkdtemp: "} + std::strerror(errno));
  fs::path dir = dir_template;
  std::printf("failover: %lld events over %lld keys preloaded, then %d events/s; %d partitions; "
              "2 worker processes, kill -9 of one; %s, %u cores; logs in %s\n",
              static_cast<long long>(opts.records), static_cast<long long>(opts.keys),
              opts.rate, partitions, opts.broker.c_str(), std::thread::hardware_concurrency(),
              dir.c_str());
  std::fflush(stdout);
  std::vector<variant_result> results;
  int n = 0;
  for (int round = 0; round < opts.rounds; ++round)
    for (auto& store : opts.stores)
      for (int standby : {0, 1}) {
        auto id = "failover-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
        results.push_back(failover_run{opts, *bootstrap, dir, id, store, standby}.run());
        print_summary(results.back());
      }
  for (auto& store : opts.stores)
    print_comparison(results, store);
  return 0;
}

} // namespace bench
