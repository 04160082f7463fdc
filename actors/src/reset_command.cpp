// `<app> reset`: the app back to its start, as Kafka Streams' application reset tool does.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <ostream>
#include <system_error>

#include "group_commands.hpp"
#include "mephisto/kafka/admin.hpp"

namespace mephisto {

namespace {

namespace fs = std::filesystem;
using kafka::partition_key;

/// Everything a reset changes, worked out before anything changes.
struct reset_plan {
  kafka::group_description group;
  std::map<partition_key, int64_t> committed;  ///< the group's offsets before the reset
  std::map<partition_key, int64_t> offsets;    ///< new offsets of the external source topics
  std::vector<std::string> delete_topics;      ///< internal topics and changelogs found
  std::vector<std::string> absent_topics;      ///< internal ones not on the broker
  std::string kept_dead_letter;                ///< the dead-letter topic, when there and kept
  std::vector<std::string> missing_sources;    ///< external source topics not on the broker
  std::optional<fs::path> store;               ///< the app's RocksDB stores, `<dir>/<id>`
  size_t store_partitions = 0;                 ///< table partitions under `store`
};

bool all_digits(const std::string& x) {
  return !x.empty()
         && std::all_of(x.begin(), x.end(), [](unsigned char c) { return std::isdigit(c); });
}

/// The app's local stores for `--store rocksdb://<dir>`: `<dir>/<id>`, nothing when there is
/// none (memory stores, or no such directory). Refuses (an error naming it) an id that is no
/// single path component, a `<dir>/<id>` that is a symbolic link or no directory, and one
/// holding anything but `<table>/<partition>` directories: reset never deletes outside it.
expected<std::optional<fs::path>> local_store(const std::string& id, const std::string& store,
                                              size_t& partitions) {
  const std::string scheme = "rocksdb://";
  if (store.rfind(scheme, 0) != 0)
    return std::optional<fs::path>{};
  auto refuse = [](const std::string& why) {
    return make_error(errc::refused, "local store: " + why + "; nothing deleted");
  };
  auto dir = store.substr(scheme.size());
  if (dir.empty())
    return refuse("store '" + store + "' names no directory");
  if (id.empty() || id == "." || id == ".." || id.find('/') != std::string::npos)
    return refuse("app id '" + id + "' is no directory name");
  std::error_code ec;
  auto root = fs::weakly_canonical(dir, ec);
  if (ec)
    return refuse("cannot resolve " + dir + ": " + ec.message());
  auto target = root / id;
  auto status = fs::symlink_status(target, ec);
  if (!fs::exists(status))
    return std::optional<fs::path>{};
  if (fs::is_symlink(status) || !fs::is_directory(status))
    return refuse(target.string() + " is a symbolic link or no directory");
  partitions = 0;
  for (auto& table : fs::directory_iterator{target, ec}) {
    if (!table.is_directory() || table.is_symlink())
      return refuse(table.path().string() + " is no table store directory");
    for (auto& part : fs::directory_iterator{table.path(), ec}) {
      if (!part.is_directory() || part.is_symlink() || !all_digits(part.path().filename()))
        return refuse(part.path().string() + " is no table partition store (<table>/<n>)");
      ++partitions;
    }
  }
  if (ec)
    return refuse("cannot read " + target.string() + ": " + ec.message());
  return std::optional<fs::path>{target};
}

/// Works out the reset of `topo`'s app: the group, the topics to delete, the new offsets.
expected<reset_plan> make_plan(rd_kafka_t* rk, const topology& topo, const worker_options& opts,
                               const reset_request& req) {
  auto timeout = std::chrono::milliseconds{opts.startup_timeout_ms};
  auto found = kafka::list_topics(rk, timeout);
  if (!found)
    return found.error();
  reset_plan plan;
  auto group = kafka::describe_group(rk, topo.app_id, timeout);
  if (!group)
    return group.error();
  plan.group = *group;
  if (group->members > 0)
    return make_error(errc::refused,
                      "consumer group " + topo.app_id + " has " + std::to_string(group->members)
                        + " live member" + (group->members == 1 ? "" : "s") + " ("
                        + group->state + "): stop every worker of the app first; nothing "
                        "changed");
  // Internal topics, changelogs, the dead-letter topic: the app creates them, so owns them.
  for (auto& spec : topo.topic_specs(opts.topic_partitions)) {
    if (!spec.create)
      continue;
    auto there = found->count(spec.name) > 0;
    if (spec.name == topo.dead_letter_topic() && !req.include_dead_letter) {
      if (there)
        plan.kept_dead_letter = spec.name;
    } else if (there) {
      plan.delete_topics.push_back(spec.name);
    } else {
      plan.absent_topics.push_back(spec.name);
    }
  }
  // Source topics the app only reads: their offsets go back.
  std::vector<std::string> external;
  std::vector<std::string> all_sources;
  for (auto i : topo.source_topics()) {
    all_sources.push_back(topo.topics[i].kafka_name);
    if (!topo.topics[i].internal)
      external.push_back(topo.topics[i].kafka_name);
  }
  std::vector<std::string> ignored;
  auto committed = kafka::committed_offsets(
    rk, topo.app_id, detail::partitions_of(all_sources, *found, ignored), timeout);
  if (!committed)
    return committed.error();
  plan.committed = std::move(*committed);
  auto partitions = detail::partitions_of(external, *found, plan.missing_sources);
  auto marks = kafka::query_watermarks(rk, partitions, timeout);
  if (!marks)
    return marks.error();
  std::map<partition_key, std::optional<int64_t>> at_time;
  if (req.to_timestamp) {
    auto found_at = kafka::offsets_for_time(rk, partitions, *req.to_timestamp, timeout);
    if (!found_at)
      return found_at.error();
    at_time = std::move(*found_at);
  }
  for (auto& key : partitions) {
    auto& w = (*marks)[key];
    // No record at or after the time: the partition starts at its end.
    plan.offsets[key] = req.to_timestamp ? at_time[key].value_or(w.high) : w.low;
  }
  size_t store_partitions = 0;
  auto store = local_store(topo.app_id, opts.store, store_partitions);
  if (!store)
    return store.error();
  plan.store = *store;
  plan.store_partitions = store_partitions;
  return plan;
}

/// "input [0..7]": the partitions of `offsets` per topic.
std::string describe_partitions(const std::map<partition_key, int64_t>& offsets) {
  std::map<std::string, std::vector<int32_t>> by_topic;
  for (auto& [key, offset] : offsets)
    by_topic[key.first].push_back(key.second);
  std::string out;
  for (auto& [topic, ps] : by_topic)
    out += (out.empty() ? "" : ", ") + topic + " [" + std::to_string(ps.front())
           + (ps.size() > 1 ? ".." + std::to_string(ps.back()) : std::string{}) + "]";
  return out.empty() ? "none" : out;
}

/// "deleted" for "delete", "committed" for "commit".
std::string done_form(const std::string& verb) {
  return verb.back() == 'e' ? verb + "d" : verb + "ted";
}

} // namespace

caf::error run_reset(const topology& topo, const worker_options& opts, const reset_request& req,
                     std::ostream& out) {
  auto timeout = std::chrono::milliseconds{opts.startup_timeout_ms};
  detail::group_admin admin;
  if (auto err = admin.open(opts))
    return err;
  auto rk = admin.rk.get();
  out << "reset of app " << topo.app_id << (req.dry_run ? " (dry run: nothing changes)" : "")
      << '\n';
  auto plan = make_plan(rk, topo, opts, req);
  if (!plan)
    return admin.explain(plan.error());
  out << "consumer group " << topo.app_id << ": " << plan->group.state << ", no live members\n";
  // Runs `action` (not in a dry run), then prints each of `lines` as done ("deleted ...")
  // or, in a dry run, as what it would do ("would delete ...").
  auto step = [&](const std::vector<std::pair<std::string, std::string>>& lines, auto action) {
    if (!req.dry_run)
      if (auto err = action())
        return err;
    for (auto& [verb, rest] : lines)
      out << (req.dry_run ? "would " + verb : done_form(verb)) << ' ' << rest << '\n';
    out << std::flush;
    return caf::error{};
  };
  // The group first: deleting it fails while a worker has joined meanwhile, before anything
  // else changed. It takes every committed offset, the internal topics' too.
  if (plan->group.exists)
    if (auto err = step({{"delete", "consumer group " + topo.app_id + " (its committed offsets: "
                                      + describe_partitions(plan->committed) + ")"}},
                        [&] { return kafka::delete_group(rk, topo.app_id, timeout); }))
      return err;
  auto target = req.to_timestamp ? "at time " + std::to_string(*req.to_timestamp) + " ms"
                                 : std::string{"earliest"};
  std::vector<std::pair<std::string, std::string>> commits;
  for (auto& [key, offset] : plan->offsets) {
    auto before = plan->committed.find(key);
    commits.emplace_back("commit", key.first + " [" + std::to_string(key.second) + "] offset "
                                     + std::to_string(offset) + " (" + target + "; was "
                                     + (before == plan->committed.end()
                                          ? std::string{"-"}
                                          : std::to_string(before->second))
                                     + ")");
  }
  if (auto err = step(commits, [&] {
        return kafka::alter_group_offsets(rk, topo.app_id, plan->offsets, timeout);
      }))
    return err;
  for (auto& t : plan->missing_sources)
    out << "source topic " << t << ": not on the broker, no offsets to reset\n";
  std::vector<std::pair<std::string, std::string>> deletions;
  for (auto& t : plan->delete_topics)
    deletions.emplace_back("delete", "topic " + t);
  if (auto err = step(deletions, [&] {
        return kafka::delete_topics(rk, plan->delete_topics, timeout);
      }))
    return err;
  for (auto& t : plan->absent_topics)
    out << "topic " << t << ": not on the broker, nothing to delete\n";
  if (!plan->kept_dead_letter.empty())
    out << "kept dead-letter topic " << plan->kept_dead_letter
        << " (--include-dead-letter deletes it)\n";
  if (plan->store) {
    auto what = "local store " + plan->store->string() + " ("
                + std::to_string(plan->store_partitions) + " table partitions)";
    if (auto err = step({{"delete", what}}, [&] {
          std::error_code ec;
          fs::remove_all(*plan->store, ec);
          return ec ? make_error(errc::store_failed, "cannot delete " + plan->store->string()
                                                       + ": " + ec.message())
                    : caf::error{};
        }))
      return err;
  } else if (opts.store.rfind("rocksdb://", 0) == 0) {
    out << "no local store of app " << topo.app_id << " under " << opts.store << '\n';
  }
  out << (req.dry_run ? "dry run: nothing changed\n" : "reset done\n");
  return caf::none;
}

} // namespace mephisto
