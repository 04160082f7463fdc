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

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <mephisto/mephisto.hpp>

#include "failover_run.hpp"
#include "mephisto/kafka/config.hpp"

namespace bench {

namespace fs = std::filesystem;

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
              opts.rate, failover_partitions, opts.broker.c_str(),
              std::thread::hardware_concurrency(), dir.c_str());
  std::fflush(stdout);
  for (auto& store : opts.stores)
    if (store != "memory" && store != "rocksdb")
      throw std::runtime_error("--failover measures memory and rocksdb stores, not " + store);
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
