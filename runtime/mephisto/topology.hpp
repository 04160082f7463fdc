#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

namespace mephisto {

namespace kafka {

/// What a topic should look like on the broker.
struct topic_spec {
  std::string name;
  int32_t partitions = 0;
  bool create = false;          ///< create when missing (internal topics, changelogs)
  bool compacted = false;       ///< cleanup.policy=compact
};

} // namespace kafka

class store_base;
class global_store_base;
struct store_place;
class agent_body;
class context;

/// Which clock a punctuator follows.
enum class punctuation_time {
  wall_clock,  ///< the worker's wall clock (also while no events arrive)
  stream_time, ///< the highest event timestamp of the agent's partition
};

/// A function an agent runs on each of its partitions every `every` of `time` (Kafka
/// Streams' punctuator), with the partition's tables and sends, inside a batch (under
/// exactly-once in its transaction). One that throws is logged, its sends and table
/// changes undone, and it runs again at its next time. Each agent partition runs its own
/// copy of `fn` (as with agent functions), on its own thread.
struct punctuator {
  std::chrono::milliseconds every{1000};
  punctuation_time time = punctuation_time::wall_clock;
  std::function<void(context&)> fn;
  /// A wall-clock punctuator on a schedule (`app::crontab`): the next time after a time
  /// (ms since the epoch), -1 for never; `every` is then how often it is checked.
  std::function<int64_t(int64_t)> next_due = {};
};

/// What an app declares, without types: the runtime's view of the user's topics, tables
/// and agents. Built by `app` on the main thread before any actor starts, then shared
/// read-only (`std::shared_ptr<const topology>`) by every actor of a worker.
struct topology {
  /// What the web views need of a table's types, without them: the codecs' names, a check
  /// that an encoded key decodes (false and `why` if not), and an encoded value as JSON
  /// (false and `why` when it does not decode).
  struct table_view {
    std::string key_codec;
    std::string value_codec;
    std::function<bool(std::string_view key, std::string& why)> check_key;
    std::function<bool(std::string_view value, boost::json::value& out, std::string& why)>
      value_json;
  };

  struct topic_def {
    std::string name;        ///< as declared, e.g. "colors_topic"
    std::string kafka_name;  ///< on the broker, e.g. "colors-colors_topic" when internal
    int32_t partitions = 0;  ///< 0: the worker's `topic_partitions` (internal) or as found
    bool internal = false;   ///< created by the app, named `<app-id>-<name>`
    /// Made by `group_by` without a partition count: the first agent declared on it with a
    /// table of a fixed partition count gives it that count.
    bool follows_tables = false;
  };

  struct table_def {
    std::string name;
    std::string changelog;   ///< `<app-id>-<name>-changelog`
    int32_t partitions = 0;  ///< 0: the worker's `topic_partitions`
    std::function<std::shared_ptr<store_base>(const store_place&)> make_store;
    table_view view;
    /// A table fed from a topic (`app::table_from`): that topic's index, whose partition
    /// count it takes when it declares none; -1: none.
    int64_t fed_by = -1;
    /// A windowed table (`app::windowed_table`): its windows' shape and hooks.
    bool windowed = false;
    bool close_on_wall_clock = false;
    std::shared_ptr<void> window_hooks; ///< `window_hooks<K, V>`, shared by its stores
  };

  /// A global table (`app::global_table`): every partition of topic `topic` in every
  /// worker, loaded before its agents start, then followed.
  struct global_def {
    std::string name;
    size_t topic = 0;
    std::function<std::shared_ptr<global_store_base>()> make_store;
    table_view view;
  };

  struct agent_def {
    std::string name;
    size_t topic = 0;             ///< index into `topics`
    std::vector<size_t> tables;   ///< indexes into `tables`: the ones it may use
    std::vector<punctuator> punctuators;
    std::function<std::unique_ptr<agent_body>()> make_body;
  };

  std::string app_id;
  std::vector<topic_def> topics;
  std::vector<table_def> tables;
  std::vector<agent_def> agents;
  std::vector<global_def> globals;
  /// Timers that run on every instance (`on_leader = false`), outside any partition.
  std::vector<punctuator> instance_timers;

  /// Kafka topics the producer writes: every topic, every changelog, the dead-letter
  /// topic. The index of table `t`'s changelog is `topics.size() + t`.
  std::vector<std::string> producer_topics() const;

  uint32_t changelog_index(size_t table) const {
    return static_cast<uint32_t>(topics.size() + table);
  }

  uint32_t dead_letter_index() const {
    return static_cast<uint32_t>(topics.size() + tables.size());
  }

  /// `<app-id>-dead-letter`: events that could not be processed, with the reason in headers.
  std::string dead_letter_topic() const { return app_id + "-dead-letter"; }

  /// Every topic the app needs on the broker, in `producer_topics()` order: its topics,
  /// the changelogs (compacted), the dead-letter topic; which ones the app creates; their
  /// partitions, `default_partitions` where a declaration leaves it open (0 for an
  /// external topic: whatever the broker has).
  std::vector<kafka::topic_spec> topic_specs(int32_t default_partitions) const;

  /// Why agent `agent` cannot use table `table` when its topic has `topic_parts`
  /// partitions, the table `table_parts` and, for a table fed from a topic, that topic
  /// `fed_parts` (co-partitioning: table partition p serves events of partition p); empty
  /// when it can. Names both topics for a join against a table fed from another topic.
  std::string co_partitioning_error(size_t agent, size_t table, int32_t topic_parts,
                                    int32_t table_parts, int32_t fed_parts) const;

  /// Indexes of the agents that consume topic `topic`.
  std::vector<size_t> agents_of(size_t topic) const;

  /// A table used by agents of two topics (e.g. a join): partition p of both topics must
  /// be on the same instance, which only an eager assignor like `range` guarantees. The
  /// name of the first such table, or empty.
  std::string table_shared_by_topics() const;

  /// Indexes of the topics some agent consumes (the group subscription).
  std::vector<size_t> source_topics() const;

  /// Rewrites the Kafka names for app id `id` (the `--id` option overrides the app name).
  void rename(const std::string& id);
};

} // namespace mephisto
