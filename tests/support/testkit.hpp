#pragma once

// Test support: a real Kafka client (librdkafka) to feed and read topics, word streams
// with known counts, and child processes for the multi-process tests.

#include <chrono>
#include <thread>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <sys/types.h>

namespace testkit {

using namespace std::chrono_literals;

struct record {
  std::string key;
  std::string value;
  int32_t partition = 0;
  int64_t offset = 0;
  bool has_value = true;
  std::map<std::string, std::string> headers;
};

/// Produces `values` (null keys, so the partitioner spreads them over all partitions)
/// and waits until every record is acknowledged. Fails the current test otherwise.
void produce(const std::string& bootstrap, const std::string& topic,
             const std::vector<std::string>& values);

/// Produces (key, value) pairs with the murmur2_random partitioner.
void produce_keyed(const std::string& bootstrap, const std::string& topic,
                   const std::vector<std::pair<std::string, std::string>>& records);

/// `produce`, waiting up to `timeout` for the acknowledgements (e.g. across an outage of
/// the broker: librdkafka keeps the records and sends them when it is back).
void produce(const std::string& bootstrap, const std::string& topic,
             const std::vector<std::string>& values, std::chrono::milliseconds timeout);

/// Which records a reader sees: `read_committed` (the default) hides records of open and
/// aborted transactions, as downstream consumers of an exactly-once app must read;
/// `read_uncommitted` sees every record written, aborted ones included.
enum class isolation { read_committed, read_uncommitted };

/// Reads `topic` from the beginning until `expected` records arrived or `timeout`
/// passed; returns what it read (possibly more than expected), each partition in offset
/// order.
std::vector<record> consume(const std::string& bootstrap, const std::string& topic,
                            size_t expected, std::chrono::milliseconds timeout,
                            isolation level = isolation::read_committed);

/// Records in open transactions at the end of `partitions` of `topic`: the high watermark
/// minus the last stable offset, summed. Not 0: a transaction writing there is open now.
int64_t records_in_open_transactions(const std::string& bootstrap, const std::string& topic,
                                     const std::set<int32_t>& partitions);

/// The end offsets of every partition of `topic`, summed: the high watermarks, or under
/// `read_committed` the last stable offsets (records of open transactions not counted).
/// -1 when the broker does not answer within `timeout` (per partition).
int64_t end_offsets_total(const std::string& bootstrap, const std::string& topic,
                          isolation level, std::chrono::milliseconds timeout = 5s);

/// Replays a changelog as a table does: the last value per key by offset, a tombstone
/// (null value) deletes the key.
std::map<std::string, std::string> replay(const std::vector<record>& changelog);

/// Creates `name` with `partitions` partitions on a real broker (waits until it exists),
/// replacing an existing topic of that name, with topic `configs` (e.g. max.message.bytes).
void recreate_topic(const std::string& bootstrap, const std::string& name, int32_t partitions,
                    const std::map<std::string, std::string>& configs = {});

/// Partition count of `topic` (0 if it does not exist).
int32_t partition_count(const std::string& bootstrap, const std::string& topic);

/// The configuration of `topic` as the broker reports it (DescribeConfigs).
std::map<std::string, std::string> topic_config(const std::string& bootstrap,
                                                const std::string& topic);

/// A deterministic stream of words: colors and others.
struct word_stream {
  std::vector<std::string> words;
  std::map<std::string, int64_t> colors;  ///< red, green, blue -> how often
  size_t color_words = 0;
};

word_stream make_words(size_t n, uint32_t seed);

/// A deterministic stream of keyed events over the keys "k0".."k<keys-1>" (values "e<i>").
struct keyed_stream {
  std::vector<std::pair<std::string, std::string>> events;
  std::map<std::string, int64_t> counts; ///< key -> how often
};

keyed_stream make_keyed_events(size_t n, size_t keys, uint32_t seed);

/// Adds `b`'s counts to `a`.
void add_counts(std::map<std::string, int64_t>& a, const std::map<std::string, int64_t>& b);

/// Checks the `output` topic of the colors app: for every color, the running counts are
/// exactly 1..truth (nothing lost, nothing doubled) and the records sit on the partition
/// Java's default partitioner picks for the key.
void expect_exact_running_counts(const std::vector<record>& output,
                                 const std::map<std::string, int64_t>& truth);

/// What an app emitting running counts per key (colors, count_app) left on its output.
struct count_report {
  size_t lost = 0;            ///< running counts 1..truth never emitted
  size_t duplicated = 0;      ///< outputs beyond the one per running count 1..truth
  size_t inexact_keys = 0;    ///< keys whose outputs by offset are not exactly 1, 2, .., truth
  std::string first_inexact;  ///< the first such key and what it got, for the failure message
  std::map<std::string, int64_t> last; ///< the last output per key, by offset
  /// The runs of running counts never emitted: (key, first, last).
  std::vector<std::tuple<std::string, int64_t, int64_t>> gaps;
};

/// Compares `output` with `truth` (key -> events). A key's outputs must share one
/// partition (else a test failure), so that offset order is their order.
count_report check_running_counts(const std::vector<record>& output,
                                  const std::map<std::string, int64_t>& truth);

/// A child process with its output (stdout and stderr) in a log file.
class child {
public:
  child(std::vector<std::string> argv, std::string log_path);
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  ~child(); ///< kills it (SIGKILL) if it still runs

  void signal(int sig);
  /// Waits up to `timeout` for the exit; returns the exit code, -1 on timeout,
  /// 128+N for a signal.
  int wait(std::chrono::milliseconds timeout);
  bool running();
  std::string log() const;
  /// Waits until the log contains `needle` `times` times; false on timeout or exit.
  bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout,
                    size_t times = 1);

private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
  std::string log_path_;
};

/// Runs `argv` with its output in `log_path` until it exits (killed after `timeout`);
/// returns the exit code (as `child::wait`) and puts its output in `log`.
int run_to_exit(std::vector<std::string> argv, const std::string& log_path,
                std::chrono::milliseconds timeout, std::string& log);

/// Starts `bin worker --broker url --threads 2 --commit_interval_ms 200 extra...` with its
/// log in `dir/name.log`.
std::unique_ptr<child> start_worker(const std::string& bin, const std::string& url,
                                    const std::string& dir, const std::string& name,
                                    std::vector<std::string> extra = {});

/// Waits until `path` exists and holds a line; returns it ("" on timeout).
std::string wait_for_line(const std::string& path, std::chrono::milliseconds timeout);

/// A fresh, empty directory for one test.
std::string temp_dir(const std::string& name);

/// `kafka://127.0.0.1:P` -> `127.0.0.1:P`.
std::string strip_scheme(const std::string& url);

/// Waits until `pred()` holds, checking every 20 ms; false after `timeout`.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

} // namespace testkit
