#pragma once

// Crash-recovery tests against running workers (part of `mephisto/testing.hpp`, target
// mephisto::testing): a real Kafka broker for tests, Kafka access for a test's input and
// output, worker processes, and a harness that starts N instances of an app and injects
// faults on a reproducible, printed timeline. Blocking calls, meant for a test's thread;
// every failure throws std::runtime_error with the reason.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

#include "mephisto/app.hpp"
#include "mephisto/testing.hpp"

namespace mephisto::testing {

// -- Kafka for tests --------------------------------------------------------------------

/// A record to produce: no key (`nullopt`) lets the partitioner spread records.
using input_record = std::pair<std::optional<std::string>, std::string>;

/// Produces `records` to `topic` (Java's murmur2 partitioner for keys) and waits up to
/// `timeout` until every one is acknowledged (librdkafka keeps them across a broker
/// outage shorter than that).
void produce(const std::string& bootstrap, const std::string& topic,
             const std::vector<input_record>& records,
             std::chrono::milliseconds timeout = std::chrono::seconds(60));

/// Which records a reader sees: `read_committed` hides records of open and aborted
/// transactions, as downstream consumers of an exactly-once app read.
enum class isolation { read_committed, read_uncommitted };

/// Reads `topic` from the beginning until `expected` records arrived or `timeout` passed;
/// returns what it read (possibly more), each partition in offset order, with headers.
std::vector<topic_record> consume(const std::string& bootstrap, const std::string& topic,
                                  size_t expected, std::chrono::milliseconds timeout,
                                  isolation level = isolation::read_committed);

/// Creates `name` with `partitions` partitions (replication 1) and topic `configs` (e.g.
/// max.message.bytes), replacing an existing topic of that name; returns once the broker
/// shows it.
void recreate_topic(const std::string& bootstrap, const std::string& name, int32_t partitions,
                    const std::map<std::string, std::string>& configs = {});

/// Partition count of `topic` (0 if it does not exist).
int32_t partition_count(const std::string& bootstrap, const std::string& topic);

// -- processes --------------------------------------------------------------------------

/// A child process with its output (stdout and stderr) in a log file. Killed (SIGKILL)
/// with the object if it still runs.
class process {
public:
  process(std::vector<std::string> argv, std::string log_path,
          std::vector<std::string> env = {});
  process(const process&) = delete;
  process& operator=(const process&) = delete;
  ~process();

  pid_t pid() const noexcept { return pid_; }
  void signal(int sig);
  /// Waits up to `timeout` for the exit; the exit code, -1 on timeout, 128+N for signal N.
  int wait(std::chrono::milliseconds timeout);
  bool running();
  std::string log() const;
  const std::string& log_path() const noexcept { return log_path_; }
  /// Waits until the log holds `needle` `times` times; false on timeout or exit.
  bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout,
                    size_t times = 1);

private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
  std::string log_path_;
};

/// A fresh, empty directory under the system's temporary directory.
std::string temp_dir(const std::string& name);

/// A loopback port nobody listens on now, for a worker started right after (its web or
/// cluster port). Picked at random below Linux's ephemeral range (32768 and up): a port
/// `bind(0)` hands out comes from that range, and any outgoing connection could take it
/// before the worker binds it (a test failed once with "cannot listen" that way).
int free_loopback_port();

// -- a real broker ----------------------------------------------------------------------

/// The kit's `kafka.sh` (a single-node Apache Kafka 4.x in KRaft mode; needs Java 17,
/// Maven, kcat and python3): `MEPHISTO_TESTING_KAFKA_SCRIPT` from the environment, else where the
/// package installed it.
std::string kafka_script();

/// A real Apache Kafka broker for tests, with its files in `dir`. Either started here
/// (and stopped with the object) or attached to one started before (`kafka.sh start DIR`,
/// e.g. a ctest fixture). `pause` makes it unreachable (SIGSTOP) until `resume`.
class kafka_broker {
public:
  /// Starts a broker (the first start resolves the jars with Maven: minutes).
  static std::unique_ptr<kafka_broker> start(const std::string& dir);
  /// Attaches to the broker `kafka.sh start dir` started.
  static std::unique_ptr<kafka_broker> attach(const std::string& dir);
  /// The broker of `$MEPHISTO_TESTING_KAFKA_DIR` when that names one (a suite's shared broker,
  /// e.g. a ctest fixture's), else a new one in a temporary directory.
  static std::unique_ptr<kafka_broker> for_tests();
  /// librdkafka's mock cluster in a process of its own: `app_binary broker` (the app's
  /// topics created, `args` e.g. {"--topic_partitions", "4"}), its URL in `dir/bootstrap`.
  /// No Java needed; `pause()` stops that process. Topics cannot be created from outside.
  static std::unique_ptr<kafka_broker> embedded(const std::string& app_binary,
                                                const std::string& dir,
                                                std::vector<std::string> args = {});
  ~kafka_broker();

  const std::string& bootstrap() const noexcept { return bootstrap_; }
  std::string url() const { return "kafka://" + bootstrap_; }
  pid_t pid() const noexcept { return pid_; }
  void pause();
  void resume();

private:
  kafka_broker(std::string dir, bool owned);
  kafka_broker() = default;
  std::unique_ptr<process> process_;  ///< the embedded broker's process
  std::string dir_;
  std::string bootstrap_;
  pid_t pid_ = -1;
  bool owned_ = false;
  bool paused_ = false;
};

// -- the harness ------------------------------------------------------------------------

/// Faults an instance injects into itself (its `inject_faults` option), for
/// `harness::start` and `harness::restart`. Each failure fires once per process.
namespace faults {

/// The agents of `topic` (declared or Kafka name) stop at the batch holding `offset` of
/// `partition`, as if the function threw `restart_partition`.
std::string fail_at(const std::string& topic, int32_t partition, int64_t offset);
/// The same batch ends in an exception escaping the agent's handler (a hard failure).
std::string crash_at(const std::string& topic, int32_t partition, int64_t offset);
/// The partition's agents give each batch's credit back `delay` late.
std::string slow(const std::string& topic, int32_t partition, std::chrono::milliseconds delay);
/// Every record produced between `from` and `to` after the start fails its delivery.
std::string produce_failures(std::chrono::milliseconds from, std::chrono::milliseconds to);
// (A cluster link between two instances is cut at run time: `harness::cut_link`.)
} // namespace faults

/// How a harness runs an app's instances.
struct harness_options {
  /// The app's executable: each instance runs its `worker` command (`app.main`). Empty:
  /// this executable, whose `main` must start with `worker_main_if_child` (see there).
  std::string binary = {};
  /// Set: the instances run in this process instead, each a `mephisto::worker` of this
  /// app with an actor system of its own (`binary` is unused). Quicker to start and to
  /// debug, but such an instance cannot be killed -9 (`kill` refuses it: use processes,
  /// or `faults::crash_at`), and its log is the test's own output. The app must outlive
  /// the harness.
  const app* in_process = nullptr;
  /// Where the instances connect: `kafka://host:port`.
  std::string broker = {};
  /// Logs and stores: instance i logs to `dir/instance-<i>.log` and keeps RocksDB stores
  /// (with `rocksdb`) in `dir/store-<i>`, reused across its restarts.
  std::string dir = {};
  bool rocksdb = false;
  /// More flags for every instance, e.g. {"--processing_guarantee", "exactly_once"}.
  /// Unless they (or an instance's own `args`) set `--cluster_listen` or
  /// `--cluster_seeds`, the harness gives an instance a cluster port of its own (kept
  /// across restarts) and those of the others as seeds, so that the instances form one
  /// cluster (routed lookups, standby replicas).
  std::vector<std::string> worker_args = {};
  /// Seeds `random()`: a schedule drawn from it is the same on every run.
  uint64_t seed = 1;
};

/// Starts instances of an app as child processes (or in this process) and injects faults:
/// kill -9, a clean stop, a paused broker, a cut cluster link, a deleted or corrupted
/// table store. Readiness is the worker's own `/ready` probe (each instance's web server on
/// a port the harness picks). Every
/// step is noted with its time on a timeline, which `timeline()` prints; put it in a
/// failing check's message. One test thread uses it.
class harness {
public:
  explicit harness(harness_options opts);
  ~harness();  ///< kills what still runs
  harness(const harness&) = delete;
  harness& operator=(const harness&) = delete;

  /// Starts a new instance that injects `faults` (see `faults::`), with `args` after the
  /// options' `worker_args` (flags of this instance only, e.g. {"--cluster_seeds", ...});
  /// returns its index.
  int start(std::vector<std::string> faults = {}, std::vector<std::string> args = {});
  /// Starts instance `i` again (it must have exited), with the same store directory and
  /// its own `args`.
  void restart(int i, std::vector<std::string> faults = {});
  /// Waits until instance `i` answers `/ready` with 200 (it joined, runs every assigned
  /// partition and is not rebalancing); false on timeout or exit.
  bool wait_ready(int i, std::chrono::milliseconds timeout);
  /// SIGKILL, then waits for the exit; returns the exit code (128 + 9 unless the instance
  /// had exited before, -1 on timeout). Refused (`std::logic_error`) for an in-process
  /// instance.
  int kill(int i);
  /// SIGTERM (a clean stop: drain and commit); returns the exit code (-1: timeout).
  int stop(int i, std::chrono::milliseconds timeout = std::chrono::seconds(60));
  bool running(int i);
  /// SIGSTOP: instance `i` hangs (its sockets stay open, it answers nothing) until `resume`.
  /// Refused (`std::logic_error`) for an in-process instance.
  void pause(int i);
  /// SIGCONT after `pause`.
  void resume(int i);
  /// Instance `i` (not running): deletes its RocksDB stores / flips bytes in their files.
  void delete_store(int i);
  void corrupt_store(int i);
  /// Makes `broker` unreachable for `duration` (SIGSTOP ... SIGCONT), blocking meanwhile.
  void pause_broker(kafka_broker& broker, std::chrono::milliseconds duration);
  /// Cuts the cluster link between instances `i` and `j` until `restore_link`: within a
  /// heartbeat each drops what the other sends and sends it nothing (the connection
  /// stays open, as in a network partition that loses packets), so each marks the other
  /// down after `cluster_timeout_ms`. Their links to others and to the broker stay. Holds
  /// across restarts. Refused (`std::logic_error`) for an instance whose flags manage the
  /// cluster.
  void cut_link(int i, int j);
  void restore_link(int i, int j);

  /// Notes a step of the test itself on the timeline.
  void note(const std::string& what);
  /// Every step so far, one per line: seconds since the start, what happened.
  std::string timeline() const;
  /// The seeded generator for fault schedules.
  std::mt19937_64& random() noexcept { return random_; }
  /// A duration in [lo, hi] drawn from `random()`.
  std::chrono::milliseconds between(std::chrono::milliseconds lo, std::chrono::milliseconds hi);

  int instances() const noexcept { return static_cast<int>(instances_.size()); }
  /// Instance `i`'s output (in-process: how it ended, or that it runs).
  std::string log(int i) const;
  /// `host:port` of instance `i`'s web server (`/metrics`, `/ready`, `/tables/...`).
  std::string web_address(int i) const;
  /// `host:port` of instance `i`'s cluster actor (empty when its flags manage the cluster).
  std::string cluster_address(int i) const;
  /// A counter or gauge of running instance `i` from its `/metrics` (the sample without
  /// labels, or the sum over its labelled ones), e.g. `mephisto_restarts_total`;
  /// `nullopt` when it does not answer or has no such metric.
  std::optional<double> metric(int i, const std::string& name) const;

private:
  struct instance;
  void launch(int i, const std::vector<std::string>& faults);
  void write_cut_links(int i);
  void set_link(int i, int j, bool cut);
  bool manages_cluster(int i) const;
  instance& at(int i) const;
  process& child(int i, const char* what); ///< its process; logic_error when in-process

  harness_options opts_;
  std::vector<std::unique_ptr<instance>> instances_;
  std::vector<std::string> timeline_;
  std::chrono::steady_clock::time_point started_;
  std::mt19937_64 random_;
};

/// For a harness without `binary`: runs this executable as a worker when the harness
/// started it (it sets `MEPHISTO_TESTING_WORKER`), and returns its exit code; `nullopt`
/// otherwise. Call it first in `main`, with the app declared:
///
///   int main(int argc, char** argv) {
///     mephisto::app app{"colors"};
///     colors::declare(app);
///     if (auto code = mephisto::testing::worker_main_if_child(app, argc, argv))
///       return *code;
///     testing::InitGoogleTest(&argc, argv);
///     return RUN_ALL_TESTS();
///   }
std::optional<int> worker_main_if_child(app& a, int argc, char** argv);

} // namespace mephisto::testing
