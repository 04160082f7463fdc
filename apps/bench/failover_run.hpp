#pragma once

// mephisto-bench --failover: one variant's run (failover_run.cpp) and what it measured;
// the steps are described in failover.cpp.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bench_kit.hpp"
#include "failover.hpp"
#include "worker_process.hpp"

namespace bench {

/// Partitions of the failover topics.
constexpr int32_t failover_partitions = 8;
/// session.timeout.ms of the group consumer (actors/src/worker.cpp), in seconds.
constexpr int session_timeout_s = 10;

/// What one variant measured (times in seconds after the kill).
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

/// One variant: two worker processes, the preload, the kill of A, the measurements.
/// Owned by the thread of `failover_bench`, which blocks in `run`; removes its topics
/// and store directories when destroyed.
class failover_run {
public:
  failover_run(const failover_options& opts, std::string bootstrap, std::filesystem::path dir,
               std::string id, std::string store, int standby);
  ~failover_run();
  /// Steps 1 to 7 (failover.cpp); throws on a failure of the setup.
  variant_result run();

private:
  /// Prints a line tagged with the variant.
  void note(const std::string& what);
  /// Polls `ready` every 100 ms; fails naming `what` after `timeout` or when a worker died.
  void wait_for(const std::string& what, seconds timeout, const std::function<bool()>& ready);
  /// Re-executes this program as the worker `name` (a or b), joining `seeds`.
  std::unique_ptr<worker_process> spawn(const std::string& name, const std::string& seeds);
  void start_workers();   ///< step 2
  void preload();         ///< step 3
  void watch_failover();  ///< steps 4 to 6
  void measure_pauses(const std::vector<std::vector<int64_t>>& times, int64_t t0);
  void read_survivor_log(std::streamoff from, int64_t t0);
  void finish();          ///< step 7

  const failover_options& opts_;
  std::string bootstrap_;
  std::filesystem::path dir_;
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

/// `s` seconds with `digits` decimals, "n/a" when negative (not measured).
std::string seconds_text(double s, int digits = 1);

/// Prints what one variant measured.
void print_summary(const variant_result& r);

/// With against without standby replicas, for one store kind (medians over the rounds).
void print_comparison(const std::vector<variant_result>& results, const std::string& store);

} // namespace bench
