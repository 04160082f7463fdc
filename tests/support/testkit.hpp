#pragma once

// The suite's own helpers on top of the public test kit (mephisto/testing.hpp): word and
// keyed-event streams with known counts, the colors checks, and the kit's Kafka access,
// processes and directories under the names the suite has always used.

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

#include "mephisto/testing.hpp"

namespace testkit {

using namespace std::chrono_literals;

using record = mephisto::testing::topic_record;
using isolation = mephisto::testing::isolation;
using child = mephisto::testing::process;
using mephisto::testing::consume;
using mephisto::testing::partition_count;
using mephisto::testing::recreate_topic;
using mephisto::testing::temp_dir;

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
