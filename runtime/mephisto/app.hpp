#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mephisto/agent_body.hpp"
#include "mephisto/codec.hpp"
#include "mephisto/context.hpp"
#include "mephisto/error.hpp"
#include "mephisto/options.hpp"
#include "mephisto/rocksdb_store.hpp"
#include "mephisto/store.hpp"
#include "mephisto/table.hpp"
#include "mephisto/topic.hpp"
#include "mephisto/topology.hpp"

namespace mephisto {

/// How an agent is declared.
struct agent_options {
  /// The tables the agent reads or writes through `ctx[table]`. Their partition `p` is
  /// lent to the agent of partition `p` for each batch.
  std::vector<table_ref> tables;
};

/// How `group_by` repartitions a stream.
struct repartition_options {
  /// Partitions of the internal topic. 0: those of the tables its agents use (the first
  /// agent declared with a table of a fixed partition count sets it), else the worker's
  /// `topic_partitions`.
  int32_t partitions = 0;
  /// The name of the agent that re-keys the events; empty: `group_by-<name>`.
  std::string agent = {};
};

namespace detail {
struct no_type {};

/// `T` and whether it came wrapped in `std::optional` (a key function that filters).
template <class T>
struct unwrap_optional {
  using type = T;
  static constexpr bool filters = false;
};
template <class T>
struct unwrap_optional<std::optional<T>> {
  using type = T;
  static constexpr bool filters = true;
};

/// What `f` returns for an event: `f(value)` or `f(key, value)`.
template <class K, class V, class F>
using key_function_result = std::remove_cv_t<std::remove_reference_t<typename std::conditional_t<
  std::is_invocable_v<F&, const V&>, std::invoke_result<F&, const V&>,
  std::invoke_result<F&, const K&, const V&>>::type>>;
} // namespace detail

/// A Mephisto application: the topics, tables and agents it declares, and `main`, which
/// gives it a command line (`worker`, `send`, `broker`). Declare everything on the main
/// thread before calling `main` or `run`.
class app {
public:
  explicit app(std::string name);

  const std::string& name() const noexcept { return topo_->app_id; }

  /// Declares a topic. `topic<V>` has raw string keys; `topic<K, V>` typed keys.
  template <class A, class B = detail::no_type>
  auto topic(std::string name, topic_options opts = {}) {
    using K = std::conditional_t<std::is_same_v<B, detail::no_type>, std::string, A>;
    using V = std::conditional_t<std::is_same_v<B, detail::no_type>, A, B>;
    static_assert(encodable<K> && encodable<V>, "no codec<T> for this key or value type");
    auto index = add_topic(name, opts);
    return mephisto::topic<K, V>{index, std::move(name)};
  }

  /// Declares a table with a changelog topic `<app-id>-<name>-changelog`.
  template <class K, class V>
  mephisto::table<K, V> table(std::string name, table_options opts = {}) {
    static_assert(encodable<K> && encodable<V>, "no codec<T> for this key or value type");
    auto make_store = [](const store_place& place) -> std::shared_ptr<store_base> {
      if (place.rocks != nullptr)
        return std::make_shared<rocksdb_store<K, V>>(place);
      return std::make_shared<memory_store<K, V>>();
    };
    topology::table_view view;
    view.key_codec = codec_name<K>();
    view.value_codec = codec_name<V>();
    view.check_key = [](std::string_view key, std::string& why) {
      K k{};
      return codec<K>::decode(key, k, why);
    };
    view.value_json = [](std::string_view value, boost::json::value& out, std::string& why) {
      V v{};
      if (!codec<V>::decode(value, v, why))
        return false;
      out = json_view(v);
      return true;
    };
    auto index = add_table(name, opts, std::move(make_store), std::move(view));
    return mephisto::table<K, V>{index, std::move(name)};
  }

  /// Declares an agent: `fn` runs for every event of `source`, one actor per partition,
  /// in offset order. `fn` takes `(const V&, context&)` or `(const K&, const V&, context&)`.
  template <class K, class V, class F>
  void agent(std::string name, const mephisto::topic<K, V>& source, F fn,
             agent_options opts = {}) {
    static_assert(std::is_invocable_v<F&, const V&, context&>
                    || std::is_invocable_v<F&, const K&, const V&, context&>,
                  "an agent function takes (const V&, context&) or "
                  "(const K&, const V&, context&)");
    add_agent(std::move(name), source.index(), std::move(opts),
              [fn] { return std::make_unique<typed_agent_body<K, V, F>>(fn); });
  }

  /// Repartitions `source` by a new key (Kafka Streams' `groupBy`, Faust's `group_by`):
  /// declares the internal topic `<app-id>-<name>` and an agent that sends each event
  /// there under the key `key_of` gives, with the same value; returns that topic, keyed by
  /// the new key, for the agents (and tables) that need events grouped by it.
  ///
  /// `key_of` takes `(const V&)` or `(const K&, const V&)` and returns the new key, or a
  /// `std::optional` of it: `std::nullopt` drops the event before the repartition (so a
  /// filter never runs after it). The topic's partition count is `opts.partitions`, else
  /// that of the tables its agents use, else the worker's `topic_partitions`.
  template <class K, class V, class F>
  auto group_by(std::string name, const mephisto::topic<K, V>& source, F key_of,
                repartition_options opts = {}) {
    static_assert(std::is_invocable_v<F&, const V&> || std::is_invocable_v<F&, const K&, const V&>,
                  "a group_by key function takes (const V&) or (const K&, const V&)");
    using result = detail::key_function_result<K, V, F>;
    using NK = typename detail::unwrap_optional<result>::type;
    constexpr bool filters = detail::unwrap_optional<result>::filters;
    static_assert(encodable<NK>, "no codec<T> for the key group_by makes");
    auto agent_name = opts.agent.empty() ? "group_by-" + name : opts.agent;
    auto out = topic<NK, V>(name, {.partitions = opts.partitions, .internal = true});
    follow_tables(out.index());
    auto forward = [out](context& ctx, auto&& new_key, const V& value) {
      if constexpr (filters) {
        if (new_key)
          ctx.send(out, *new_key, value);
      } else {
        ctx.send(out, new_key, value);
      }
    };
    if constexpr (std::is_invocable_v<F&, const V&>)
      agent(std::move(agent_name), source, [key_of, forward](const V& value, context& ctx) mutable {
        forward(ctx, key_of(value), value);
      });
    else
      agent(std::move(agent_name), source,
            [key_of, forward](const K& key, const V& value, context& ctx) mutable {
              forward(ctx, key_of(key, value), value);
            });
    return out;
  }

  /// Forwards every event of `source` to `target` unchanged (Faust's `through`; the
  /// explicit form of a repartition: `target` is declared by the caller, with its own
  /// partition count); returns `target`. The agent is named `agent`, or `through-<target>`.
  template <class K, class V>
  const mephisto::topic<K, V>& through(const mephisto::topic<K, V>& source,
                                       const mephisto::topic<K, V>& target,
                                       std::string agent_name = {}) {
    if (agent_name.empty())
      agent_name = "through-" + target.name();
    agent(std::move(agent_name), source, [target](const K& key, const V& value, context& ctx) {
      ctx.send(target, key, value);
    });
    return target;
  }

  /// Runs the command line: `worker`, `send`, `broker`; see `--help`. Returns the exit code.
  int main(int argc, char** argv);

  /// The declarations so far.
  const topology& declared() const noexcept { return *topo_; }

  /// A copy of the declarations renamed for the app id in `opts` (for `worker`).
  std::shared_ptr<topology> resolve(const worker_options& opts) const;

private:
  uint32_t add_topic(const std::string& name, const topic_options& opts);
  uint32_t add_table(const std::string& name, const table_options& opts,
                     std::function<std::shared_ptr<store_base>(const store_place&)> make_store,
                     topology::table_view view);
  void add_agent(std::string name, uint32_t topic, agent_options opts,
                 std::function<std::unique_ptr<agent_body>()> make_body);
  /// Marks internal topic `topic` (made by `group_by`, without a partition count) to take
  /// the partition count of the tables its agents use.
  void follow_tables(uint32_t topic);

  std::shared_ptr<topology> topo_;
};

} // namespace mephisto
