#pragma once

// The suite's own helpers on top of the public test kit (mephisto/testing.hpp): word and
// keyed-event streams with known counts, the colors checks, the harness options the suite
// starts its workers with, and broker queries the kit does not offer (end offsets, open
// transactions, topic configs).

#include <chrono>
#include <thread>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "mephisto/testing.hpp"

namespace testkit {

using namespace std::chrono_literals;

using record = mephisto::testing::topic_record;
using isolation = mephisto::testing::isolation;
using mephisto::testing::consume;
using mephisto::testing::partition_count;
using mephisto::testing::recreate_topic;
using mephisto::testing::temp_dir;

/// Produces `values` (null keys, so the partitioner spreads them over all partitions)
/// and waits up to `timeout` until every record is acknowledged (e.g. across an outage of
/// the broker: librdkafka keeps the records and sends them when it is back).
void produce(const std::string& bootstrap, const std::string& topic,
             const std::vector<std::string>& values, std::chrono::milliseconds timeout = 60s);

/// Produces (key, value) pairs with the murmur2_random partitioner.
void produce_keyed(const std::string& bootstrap, const std::string& topic,
                   const std::vector<std::pair<std::string, std::string>>& records);

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

/// The runs of running counts 1..truth[key] that `output` lacks, (key, first, last) in key
/// order: what a failed at-least-once or exactly-once check is missing, for its message.
std::vector<std::tuple<std::string, int64_t, int64_t>>
missing_runs(const std::vector<record>& output, const std::map<std::string, int64_t>& truth);

/// The last running count per key of `output`, in (partition, offset) order.
std::map<std::string, int64_t> last_counts(const std::vector<record>& output);

/// A harness's options for `binary`'s workers on `url` as the suite runs them (2 threads,
/// commits every 200 ms) with `flags` after those; logs (and stores, with `rocksdb`) in
/// `dir`, fault schedules drawn from `seed`.
mephisto::testing::harness_options suite_workers(const std::string& binary,
                                                 const std::string& url,
                                                 const std::string& dir,
                                                 std::vector<std::string> flags = {},
                                                 bool rocksdb = false, uint64_t seed = 1);

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
