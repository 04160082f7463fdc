#pragma once

// `<app> lag` and `<app> reset`: the app's consumer group (group id = the app id) on a real
// broker. `lag` reads how far the group is behind on every source topic; `reset` puts the app
// back to its start, as Kafka Streams' application reset tool does (internal topics and
// changelogs deleted, source offsets back to the earliest or to a time, local RocksDB stores
// deleted). Both need a real `--broker kafka://...` (the embedded broker lives only inside a
// worker) and use the user's Kafka client properties. Used on the main thread only.

#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mephisto/error.hpp"
#include "mephisto/kafka/config.hpp"
#include "mephisto/kafka/group_admin.hpp"
#include "mephisto/options.hpp"
#include "mephisto/topology.hpp"

namespace mephisto {

/// The lag of the group on one partition of a source topic.
struct partition_lag {
  std::string topic;                ///< Kafka name
  int32_t partition = 0;
  std::optional<int64_t> committed; ///< nothing: the group committed no offset here
  int64_t low = 0;                  ///< first offset kept
  int64_t end = 0;                  ///< high watermark
  int64_t lag = 0;                  ///< end - committed, or end - low without a commit
};

/// `<app> lag`: the group and its lag on every partition of the app's source topics.
struct group_lag {
  std::string group;
  kafka::group_description description;
  std::vector<partition_lag> partitions;   ///< by topic, then partition
  std::vector<std::string> missing_topics; ///< source topics not on the broker (yet)
  int64_t total = 0;
};

/// Reads the lag of `topo`'s consumer group (app id renamed for `opts`) from the broker of
/// `opts.broker` (not `embedded`), with the user's client properties.
expected<group_lag> read_lag(const topology& topo, const worker_options& opts);

/// Prints `lag` as a table with a total line, or (`json`) as one JSON object.
void print_lag(const group_lag& lag, bool json, std::ostream& out);

/// What `<app> reset` is asked to do.
struct reset_request {
  bool dry_run = false;                ///< print the plan, change nothing (default false)
  std::optional<int64_t> to_timestamp; ///< source offsets to this time (Unix ms); default none:
                                       ///< to the earliest
  bool include_dead_letter = false;    ///< delete `<id>-dead-letter` too (default false: kept)
};

/// Resets the app: refuses (`errc::refused`) while its group has live members; else deletes
/// its internal topics and changelogs (and, asked to, its dead-letter topic), deletes the
/// group and commits the source topics' new offsets, and deletes its local RocksDB stores
/// (`<dir>/<id>` of `--store rocksdb://<dir>`). Prints each step to `out`; a dry run prints
/// them as what it would do.
caf::error run_reset(const topology& topo, const worker_options& opts, const reset_request& req,
                     std::ostream& out);

/// Parses an ISO 8601 date and time (`2026-12-01T10:00:00Z`, `2026-12-01T10:00:00.250+02:00`)
/// into Unix milliseconds.
expected<int64_t> parse_datetime(const std::string& text);

namespace detail {

/// An admin client for `opts`' broker with the user's client properties, and a watch for a
/// refused login (which shows only as an error event while the request times out). Not
/// movable: librdkafka holds the watch's address.
struct group_admin {
  kafka::auth_watch auth;
  kafka::handle_ptr rk;

  group_admin() = default;
  group_admin(const group_admin&) = delete;
  group_admin& operator=(const group_admin&) = delete;

  /// Checks the client properties and makes the client.
  caf::error open(const worker_options& opts);

  /// `err`, or `errc::authentication_failed` when the broker refused the login meanwhile.
  caf::error explain(caf::error err);
};

/// The partitions of `topics` (Kafka names) as `found` on the broker; the missing ones go to
/// `missing`.
std::vector<kafka::partition_key>
partitions_of(const std::vector<std::string>& topics,
              const std::map<std::string, int32_t>& found, std::vector<std::string>& missing);

} // namespace detail

} // namespace mephisto
