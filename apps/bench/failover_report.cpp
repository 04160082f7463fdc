// mephisto-bench --failover: the summary lines of its variants.

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "failover_run.hpp"

namespace bench {

std::string seconds_text(double s, int digits) {
  if (s < 0)
    return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f s", digits, s);
  return buf;
}

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

} // namespace bench
