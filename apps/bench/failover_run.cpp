#include "failover_run.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

#include "keyed_events.hpp"

namespace bench {

namespace {

namespace fs = std::filesystem;

constexpr int64_t warm_trickle_ms = 3000;
constexpr seconds resume_timeout{120};

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

/// "0 3 5": the partitions, space-separated.
std::string listing(const std::set<int32_t>& parts) {
  std::string out;
  for (auto p : parts) {
    // Not `(out.empty() ? "" : " ") + ...`: g++ 12 warns about it (-Wrestrict, a false one).
    if (!out.empty())
      out += ' ';
    out += std::to_string(p);
  }
  return out;
}

} // namespace

failover_run::failover_run(const failover_options& opts, std::string bootstrap, fs::path dir,
                           std::string id, std::string store, int standby)
  : opts_(opts), bootstrap_(std::move(bootstrap)), dir_(std::move(dir)), id_(std::move(id)),
    events_(id_ + "-events"), outputs_(id_ + "-counts-out"),
    admin_(client(RD_KAFKA_PRODUCER, bootstrap_, {})),
    sent_(static_cast<size_t>(opts.keys), 0) {
  result_.store = std::move(store);
  result_.standby = standby;
  tag_ = "[" + result_.store + " standby=" + std::to_string(standby) + "]";
}

failover_run::~failover_run() {
  a_.reset();
  b_.reset();
  delete_topics(admin_.get(), id_ + "-");
  for (auto* w : {"a", "b"})
    fs::remove_all(dir_ / (id_ + "-" + w + "-store"));
}

variant_result failover_run::run() {
  create_topic(admin_.get(), events_, failover_partitions, {});
  create_topic(admin_.get(), outputs_, failover_partitions,
               {{"message.timestamp.type", "LogAppendTime"}});
  start_workers();
  preload();
  watch_failover();
  finish();
  return result_;
}

void failover_run::note(const std::string& what) {
  std::printf("  %s %s\n", tag_.c_str(), what.c_str());
  std::fflush(stdout);
}

void failover_run::wait_for(const std::string& what, seconds timeout,
                            const std::function<bool()>& ready) {
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

std::unique_ptr<worker_process> failover_run::spawn(const std::string& name,
                                                    const std::string& seeds) {
  std::string store = "memory://";
  if (result_.store == "rocksdb")
    store = "rocksdb://" + (dir_ / (id_ + "-" + name + "-store")).string();
  std::vector<std::string> args{"mephisto-bench", "--failover-worker", id_, "worker",
                                "--broker", "kafka://" + bootstrap_, "--id", id_,
                                "--store", store, "--table_standby_replicas",
                                std::to_string(result_.standby), "--cluster_secret",
                                "failover-bench",
                                // Two workers on one machine: the default port is taken.
                                "--web_listen", "off"};
  if (!seeds.empty()) {
    args.push_back("--cluster_seeds");
    args.push_back(seeds);
  }
  return std::make_unique<worker_process>(args, (dir_ / (id_ + "-" + name + ".log")).string());
}

void failover_run::start_workers() {
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
    return both.size() == static_cast<size_t>(failover_partitions)
           && a->size() + b->size() == both.size();
  });
  result_.moved = a_parts;
  note("A (cluster " + a_address + ") owns " + listing(a_parts) + ", B owns "
       + listing(b_parts));
}

void failover_run::preload() {
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
    return records_in(admin_.get(), outputs_, failover_partitions) >= opts_.records;
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
                                                  failover_partitions))
       + " records before the kill");
}

void failover_run::watch_failover() {
  output_watch watch{bootstrap_, outputs_, failover_partitions};
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

void failover_run::measure_pauses(const std::vector<std::vector<int64_t>>& times, int64_t t0) {
  for (int32_t p = 0; p < failover_partitions; ++p) {
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

void failover_run::read_survivor_log(std::streamoff from, int64_t t0) {
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

void failover_run::finish() {
  auto events = std::accumulate(sent_.begin(), sent_.end(), int64_t{0});
  wait_for("an output for every event", 120s, [&] {
    return records_in(admin_.get(), outputs_, failover_partitions) >= events;
  });
  std::this_thread::sleep_for(1s); // replays may still be on their way
  if (!b_->stop(60s))
    result_.problems.push_back("B did not stop cleanly on SIGTERM (" + b_->how_it_ended()
                               + ")");
  auto highest = highest_counts(bootstrap_, outputs_, failover_partitions, sent_.size());
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

} // namespace bench
