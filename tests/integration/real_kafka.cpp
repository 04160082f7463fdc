#include "integration/real_kafka.hpp"

namespace kafka_suite {

/// Says how many runs of lost running counts end in a value the table's changelog holds:
/// the table counted those events, but the outputs of their batch never reached Kafka
/// (a kill after the batch's changelog records were delivered and before its outputs
/// were; the restart then counts on from the changelog).
std::string explain_gaps(const testkit::count_report& report,
                         const std::vector<testkit::record>& changelog) {
  std::map<std::string, std::set<int64_t>> logged;
  for (auto& r : changelog)
    if (r.has_value)
      logged[r.key].insert(std::stoll(r.value));
  size_t ahead = 0;
  for (auto& [key, from, to] : report.gaps) {
    auto it = logged[key].lower_bound(from);
    ahead += it != logged[key].end() && *it <= to;
  }
  std::ostringstream out;
  out << report.gaps.size() << " runs missing, " << ahead << " of them in the changelog";
  if (!report.gaps.empty()) {
    auto& [key, from, to] = report.gaps.front();
    out << "; first: " << key << " " << from << ".." << to;
  }
  return out.str();
}

/// Sums the `recovered: N changelog records` lines of a worker log.
uint64_t recovered_records(const std::string& log) {
  static const std::regex line{"recovered: ([0-9]+) changelog records"};
  uint64_t sum = 0;
  for (std::sregex_iterator it{log.begin(), log.end(), line}, end; it != end; ++it)
    sum += std::stoull((*it)[1]);
  return sum;
}

/// The flags of a worker with `guarantee` and `store`; the defaults (at_least_once,
/// memory://) are not passed.
std::vector<std::string> guarantee_flags(const std::string& guarantee, const std::string& store) {
  std::vector<std::string> flags;
  if (guarantee != "at_least_once")
    flags.insert(flags.end(), {"--processing_guarantee", guarantee});
  if (store != "memory://")
    flags.insert(flags.end(), {"--store", store});
  return flags;
}

/// The partitions a worker holds now according to its log ("topic[p]"): every
/// `assigned:` line adds its partitions, every `revoked:` line takes its own away (the
/// cooperative assignor moves only some; the eager one revokes all first). Only complete
/// lines count.
std::set<std::string> current_share(const std::string& log) {
  std::set<std::string> share;
  std::istringstream lines{log};
  for (std::string line; std::getline(lines, line) && !lines.eof();) {
    bool add = line.find("assigned: ") != std::string::npos;
    auto at = line.find(add ? "assigned: " : "revoked: ");
    if (at == std::string::npos)
      continue;
    std::istringstream parts{line.substr(at + (add ? 10 : 9))};
    for (std::string part; parts >> part;) {
      if (add)
        share.insert(part);
      else
        share.erase(part);
    }
  }
  return share;
}

std::string logs_of(const std::vector<child*>& workers) {
  std::string out;
  for (size_t i = 0; i < workers.size(); ++i)
    out += "----- worker " + std::to_string(i) + " -----\n" + workers[i]->log();
  return out;
}

/// Waits until `workers` hold all `partitions` partitions between them, each a non-empty
/// share and none a partition another one holds. Returns their shares; nothing if that
/// does not happen within `timeout` or a worker exits.
std::optional<std::vector<std::set<std::string>>>
wait_for_split(const std::vector<child*>& workers, size_t partitions,
               std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::vector<std::set<std::string>> shares;
    std::set<std::string> all;
    size_t held = 0;
    bool idle = false;
    for (auto* w : workers) {
      if (!w->running())
        return std::nullopt;
      shares.push_back(current_share(w->log()));
      idle = idle || shares.back().empty();
      held += shares.back().size();
      all.insert(shares.back().begin(), shares.back().end());
    }
    if (!idle && held == partitions && all.size() == partitions)
      return shares;
    std::this_thread::sleep_for(50ms);
  }
  return std::nullopt;
}

/// The partition numbers of `topic` in a share.
std::set<int32_t> partitions_of(const std::set<std::string>& share, const std::string& topic) {
  std::set<int32_t> out;
  for (auto& part : share)
    if (part.rfind(topic + "[", 0) == 0)
      out.insert(std::stoi(part.substr(topic.size() + 1)));
  return out;
}

size_t records_on(const std::vector<testkit::record>& records,
                  const std::set<int32_t>& partitions) {
  return static_cast<size_t>(std::count_if(records.begin(), records.end(), [&](auto& r) {
    return partitions.count(r.partition) > 0;
  }));
}

/// The events a worker processed, from its `stopped: N events` line (0 without one).
uint64_t processed_events(const std::string& log) {
  static const std::regex line{"stopped: ([0-9]+) events"};
  std::smatch m;
  return std::regex_search(log, m, line) ? std::stoull(m[1]) : 0;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Checks the output and the table once every worker stopped. At-least-once: every
/// running count 1..truth was emitted (duplicates are allowed and counted) and the last
/// output per key is at least the truth (above it when events were counted again after a
/// crash: the table had them, their input offsets were not committed yet). Exactly-once,
/// read committed: per key exactly 1, 2, .., truth in offset order. Both: the table (its
/// changelog, replayed) ends where the output ends (so under exactly-once at the truth).
outcome real_kafka::expect_final_counts(const workload& w, bool exactly_once) {
  outcome result;
  auto out = testkit::consume(bootstrap, w.output, SIZE_MAX, 5s);
  auto& report = result.report = testkit::check_running_counts(out, w.truth);
  auto log = changelog(w);
  auto table = testkit::replay(log);
  EXPECT_EQ(report.lost, 0u) << "running counts lost; " << explain_gaps(report, log);
  size_t short_keys = 0;   // last output below the truth
  size_t table_drift = 0;  // changelog's last value differs from the last output
  std::string example;
  for (auto& [key, n] : w.truth) {
    auto last_out = report.last[key];
    short_keys += last_out < n;
    result.keys_past_truth += last_out > n;
    if (table[key] != std::to_string(last_out) && table_drift++ == 0)
      example = key + ": changelog " + table[key] + ", output " + std::to_string(last_out);
  }
  EXPECT_EQ(short_keys, 0u) << "keys whose last output is below the truth";
  EXPECT_EQ(table_drift, 0u) << "the table does not end where the output ends, " << example;
  if (exactly_once) {
    EXPECT_EQ(report.duplicated, 0u) << "exactly-once emitted duplicates";
    EXPECT_EQ(report.inexact_keys, 0u) << report.first_inexact;
    // What the kills left in aborted transactions (read uncommitted sees it): the proof
    // that they hit open transactions.
    auto all = testkit::consume(bootstrap, w.output, SIZE_MAX, 5s,
                                testkit::isolation::read_uncommitted);
    result.aborted = " (" + std::to_string(all.size() - out.size()) + " aborted outputs hidden)";
  }
  return result;
}

/// Feeds the events of `w` in chunks while workers (static membership, so each restart
/// takes the partitions back at once instead of waiting out the dead member's session
/// timeout) are SIGKILLed 10 times at random moments, then lets a last worker finish and
/// stop cleanly; `expect_final_counts` judges the result.
void real_kafka::survive_kill_9s(const std::string& scenario, const workload& w,
                                 const std::string& guarantee, const std::string& store) {
  auto flags = guarantee_flags(guarantee, store);
  flags.insert(flags.end(), {"--instance_id", "crash-worker"});
  std::atomic<size_t> fed{0};
  auto feeder = feed_in_background(w, 0, w.events.size(), 2000, 200ms, fed);
  std::mt19937 gen{w.seed};
  int kills = 0;
  for (; kills < 10; ++kills) {
    // (std::string{..}.append: "w" + std::to_string trips a GCC 12 -Wrestrict false positive)
    auto victim = start(w, std::string{"w"}.append(std::to_string(kills)), flags);
    ASSERT_TRUE(victim->wait_for_log("assigned: ", 90s)) << victim->log();
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + gen() % 2000));
    victim->signal(SIGKILL);
    EXPECT_EQ(victim->wait(10s), 128 + SIGKILL);
  }
  feeder.join();
  EXPECT_EQ(fed.load(), w.events.size());
  // A last worker finishes the input and stops cleanly.
  auto last = start(w, "last", flags);
  ASSERT_TRUE(last->wait_for_log("assigned: ", 90s)) << last->log();
  wait_until_outputs_complete(w);
  last->signal(SIGTERM);
  EXPECT_EQ(last->wait(60s), 0) << last->log();
  auto result = expect_final_counts(w, guarantee == "exactly_once");
  std::printf("[ summary  ] %s: %zu events, %d kills, %zu lost, %zu duplicated outputs%s\n",
              scenario.c_str(), w.events.size(), kills, result.report.lost,
              result.report.duplicated, result.aborted.c_str());
}

// Several instances in one consumer group, as a scaled-out deployment runs them. They have
// no --instance_id: dynamic membership is what instances get without configuring one each,
// and static membership would change nothing the kill test measures (a SIGKILLed member
// sends no LeaveGroup either way, so its partitions move only when its session times out,
// after 10 s) while it would stall the scale-in (a static member that stops cleanly keeps
// its partitions until its session times out). Under exactly-once it also covers the
// harder end of a dead instance's open transaction: with a transactional id nobody
// reuses, only the transaction timeout ends it (10 s, and up to 10 s more until the
// broker's next check aborts it); until then read_committed readers of its partitions
// see nothing past it, while the survivors already restore and process them.

/// Three instances of `w` (keyed: an event's input, table and output partitions are the
/// same) split the partitions. While events flow, one is SIGKILLed: its partitions move to
/// the two survivors, who go on processing them. Then it restarts with its store and
/// takes a share again while the last fifth of the events flows, so it has work. At the
/// end every instance stops cleanly and `expect_final_counts` judges the output.
void real_kafka::three_instances_survive_a_kill_9(const std::string& scenario,
                                                  const workload& w,
                                                  const std::string& guarantee, bool rocksdb) {
  ASSERT_TRUE(w.keyed) << "the killed instance's output partitions are its input partitions";
  auto instance = [&](const std::string& log_name, const std::string& store_name) {
    return start(w, log_name,
                 guarantee_flags(guarantee, rocksdb ? "rocksdb://" + dir + "/store-" + store_name
                                                    : "memory://"));
  };
  std::vector<std::unique_ptr<child>> procs;
  for (auto name : {"a", "b", "c"})
    procs.push_back(instance(name, name));
  auto all = [&] { return std::vector<child*>{procs[0].get(), procs[1].get(), procs[2].get()}; };
  auto split = wait_for_split(all(), w.source_partitions, 90s);
  ASSERT_TRUE(split) << "the three instances never split the partitions\n" << logs_of(all());

  std::atomic<size_t> fed{0};
  // 4000 events/s, flowing on well after the killed instance's session timed out (~10 s
  // after the kill).
  const size_t before_restart = w.events.size() * 4 / 5;
  auto feeder = feed_in_background(w, 0, before_restart, 1000, 250ms, fed);
  // Mid-stream: a fifth of the events in.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (fed < w.events.size() / 5 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  const size_t victim = 1;
  auto moved = partitions_of((*split)[victim], w.input);
  // Exactly-once: while the victim's open transaction holds outputs, which it then never
  // commits (between two transactions a kill would test only the move).
  if (guarantee == "exactly_once")
    for (deadline = std::chrono::steady_clock::now() + 10s;
         testkit::records_in_open_transactions(bootstrap, w.output, moved) == 0
         && std::chrono::steady_clock::now() < deadline;)
      std::this_thread::sleep_for(5ms);
  auto killed_at = std::chrono::steady_clock::now();
  procs[victim]->signal(SIGKILL);
  ASSERT_EQ(procs[victim]->wait(10s), 128 + SIGKILL);
  const size_t fed_at_kill = fed;
  EXPECT_LT(fed_at_kill, w.events.size()) << "the kill did not land mid-stream";
  // All the killed instance wrote is there now; whatever its partitions gain from here on,
  // the survivors wrote.
  auto before = records_on(testkit::consume(bootstrap, w.output, SIZE_MAX, 3s), moved);

  std::vector<child*> survivors{procs[0].get(), procs[2].get()};
  auto taken_over = wait_for_split(survivors, w.source_partitions, 60s);
  ASSERT_TRUE(taken_over) << "the survivors never took the killed instance's partitions\n"
                          << logs_of(survivors);
  auto move_s = seconds_since(killed_at);
  const size_t fed_at_move = fed;
  EXPECT_LT(fed_at_move, before_restart) << "the partitions moved after the events stopped";
  // Exactly-once: visible only once the dead instance's open transaction timed out.
  size_t after = before;
  for (deadline = std::chrono::steady_clock::now() + 60s;
       after <= before && std::chrono::steady_clock::now() < deadline;)
    after = records_on(testkit::consume(bootstrap, w.output, SIZE_MAX, 2s), moved);
  EXPECT_GT(after, before) << "the survivors did not process the moved partitions\n"
                           << logs_of(survivors);
  auto go_on_s = seconds_since(killed_at);
  const size_t fed_when_readable = fed;

  feeder.join();
  auto restarted_at = std::chrono::steady_clock::now();
  procs[victim] = instance("b-restarted", "b"); // its own store again
  feeder = feed_in_background(w, before_restart, w.events.size(), 1000, 250ms, fed);
  auto again = wait_for_split(all(), w.source_partitions, 60s);
  EXPECT_TRUE(again) << "the restarted instance got no share\n" << logs_of(all());
  auto back_s = seconds_since(restarted_at);

  feeder.join();
  EXPECT_EQ(fed.load(), w.events.size());
  wait_until_outputs_complete(w);
  for (auto* p : all())
    p->signal(SIGTERM);
  for (auto* p : all())
    EXPECT_EQ(p->wait(60s), 0) << p->log();
  auto restarted_events = processed_events(procs[victim]->log());
  EXPECT_GT(restarted_events, 0u) << "the restarted instance did no work\n"
                                  << procs[victim]->log();
  auto result = expect_final_counts(w, guarantee == "exactly_once");
  std::printf("[ summary  ] %s: %zu events, 1 kill (at event %zu), %zu lost, %zu duplicated "
              "outputs%s, %zu keys counted past the truth; the killed instance's %zu "
              "partitions moved %.1f s after the kill -9 (at event %zu), new outputs on them "
              "readable after %.1f s (at event %zu); the restarted instance got a share "
              "%.1f s after its start and processed %llu events\n",
              scenario.c_str(), w.events.size(), fed_at_kill, result.report.lost,
              result.report.duplicated, result.aborted.c_str(), result.keys_past_truth,
              moved.size(), move_s, fed_at_move, go_on_s, fed_when_readable, back_s,
              static_cast<unsigned long long>(restarted_events));
}

} // namespace kafka_suite
