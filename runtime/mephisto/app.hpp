#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mephisto/agent_body.hpp"
#include "mephisto/batch_body.hpp"
#include "mephisto/codec.hpp"
#include "mephisto/context.hpp"
#include "mephisto/error.hpp"
#include "mephisto/global_table.hpp"
#include "mephisto/join_buffer.hpp"
#include "mephisto/options.hpp"
#include "mephisto/rocksdb_store.hpp"
#include "mephisto/store.hpp"
#include "mephisto/table.hpp"
#include "mephisto/topic.hpp"
#include "mephisto/topology.hpp"
#include "mephisto/window.hpp"
#include "mephisto/windowed_store.hpp"
#include "mephisto/windowed_view.hpp"

namespace mephisto {

/// How an agent is declared.
struct agent_options {
  /// The tables the agent reads or writes through `ctx[table]`. Their partition `p` is
  /// lent to the agent of partition `p` for each batch.
  std::vector<table_ref> tables;
  /// Functions run on each partition every so often of the wall clock or stream time.
  std::vector<punctuator> punctuators = {};
  /// For an agent whose function takes a batch (`std::span<const taken<K, V>>`): how many
  /// events it takes at most, and how long the first may wait for the others.
  take_options take = {};
};

/// How `app::timer` runs.
struct timer_options {
  /// Only on the instance that holds the app's leader partition (partition 0 of the
  /// internal topic `<app-id>-leader`): once per app, moving with that partition when an
  /// instance stops or dies. `false`: on every instance, each running its own copy,
  /// without tables (global tables are readable); its sends are at-least-once, outside any
  /// transaction.
  bool on_leader = true;
};

/// How `app::crontab` runs.
struct crontab_options {
  /// The IANA time zone the schedule is read in ("Europe/Berlin"; the system's tzdata).
  std::string timezone = "UTC";
  /// As `timer_options::on_leader`.
  bool on_leader = true;
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
    auto index = add_table(name, opts, std::move(make_store), plain_view<K, V>());
    return mephisto::table<K, V>{index, std::move(name)};
  }

  /// Declares a global table fed from `source` (Kafka Streams' GlobalKTable): every worker
  /// holds every partition of `source`, read outside the consumer group (the topic is its
  /// log: no changelog), and loads it to its end before its agents start; it then follows
  /// the topic. The last value per key wins; a null value deletes the key. Any agent reads
  /// it with `ctx[table]` (`global_view`), without listing it and whatever the
  /// partitioning of its own topic: for lookups that are not co-partitioned. Reads never
  /// block on the broker; they see the topic as loaded so far, outside any transaction.
  /// Kept in memory, and reloaded from the topic at every start.
  template <class K, class V>
  mephisto::global_table<K, V> global_table(std::string name,
                                            const mephisto::topic<K, V>& source) {
    static_assert(encodable<K> && encodable<V>, "no codec<T> for this key or value type");
    auto index = add_global(name, source.index(),
                            [] { return std::make_shared<global_store<K, V>>(); },
                            plain_view<K, V>());
    return mephisto::global_table<K, V>{index, std::move(name)};
  }

  /// Declares a table fed from `source` (Kafka Streams' KTable): the agent `table-<name>`
  /// keeps the last value of every key; a record with a null value (a tombstone) deletes
  /// the key. Agents of other topics join against it with `ctx[table]`, listing it in
  /// their `agent_options::tables`: their topic must have as many partitions as `source`
  /// (a start-up error naming both topics otherwise), and the consumer group then uses the
  /// range assignor, which keeps partition p of both on one instance. The table takes the
  /// partition count of `source` unless `opts` sets one.
  template <class K, class V>
  mephisto::table<K, V> table_from(std::string name, const mephisto::topic<K, V>& source,
                                   table_options opts = {}) {
    auto t = table<K, V>(name, opts);
    mark_fed(t.index(), source.index());
    auto feed = [t](const K& key, const std::optional<V>& value, context& ctx) {
      if (value)
        ctx[t][key] = *value;
      else
        ctx[t].erase(key);
    };
    add_agent("table-" + name, source.index(), {.tables = {t}}, [feed] {
      return std::make_unique<typed_agent_body<K, std::optional<V>, decltype(feed)>>(feed);
    });
    return t;
  }

  /// Declares a windowed table (Kafka Streams' windowed aggregation, Faust's
  /// `.tumbling()`/`.hopping()`): one value per key and window, in the same stores and with
  /// the same changelog and recovery as `table`. `spec` is `tumbling(size)`,
  /// `hopping(size, step)` or `session(gap)`; `opts` sets grace, expiry, closing on the
  /// wall clock and dead-lettering late events. Agents update it through `ctx[table]`
  /// (`windowed_view`); `on_window_close` gets each window's final value. Session windows
  /// fold merged sessions with `merge` (default `+=` where `V` has it).
  template <class K, class V>
  mephisto::windowed_table<K, V> windowed_table(std::string name, window_spec spec,
                                                windowed_options opts = {},
                                                std::function<void(V&, const V&)> merge = {}) {
    static_assert(encodable<K> && encodable<V>, "no codec<T> for this key or value type");
    spec.grace = opts.grace.count();
    spec.expires = opts.expires.count();
    spec.close_on_wall_clock = opts.close_on_wall_clock;
    spec.dead_letter_late = opts.dead_letter_late;
    auto hooks = std::make_shared<window_hooks<K, V>>();
    hooks->merge = std::move(merge);
    if constexpr (requires(V& a, const V& b) { a += b; })
      if (!hooks->merge)
        hooks->merge = [](V& a, const V& b) { a += b; };
    check_window_spec(name, spec, static_cast<bool>(hooks->merge));
    using row_key = detail::window_key<K>;
    using row = detail::window_cell<V>;
    auto make_store = [spec, hooks](const store_place& place) -> std::shared_ptr<store_base> {
      std::shared_ptr<typed_store<row_key, row>> inner;
      if (place.rocks != nullptr)
        inner = std::make_shared<rocksdb_store<row_key, row>>(place);
      else
        inner = std::make_shared<memory_store<row_key, row>>();
      // A copy per partition: the partitions' agents call the callbacks on their own
      // threads, each on its own copy.
      return std::make_shared<windowed_store<K, V>>(
        std::move(inner), spec, std::make_shared<const window_hooks<K, V>>(*hooks), place.table);
    };
    // Looked up by the user's key: the answer is every window of it (windowed_store::lookup).
    topology::table_view view;
    view.key_codec = codec_name<K>();
    view.value_codec = std::string{"windows of "} + codec_name<V>();
    view.check_key = [](std::string_view key, std::string& why) {
      K k{};
      return codec<K>::decode(key, k, why);
    };
    view.value_json = [](std::string_view value, boost::json::value& out, std::string& why) {
      boost::json::array windows;
      auto ok = detail::for_each_window_entry(
        value,
        [&](const window& w, std::string_view bytes) {
          V v{};
          if (!codec<V>::decode(bytes, v, why))
            return false;
          windows.push_back(boost::json::object{{"start", w.start}, {"end", w.end},
                                                {"value", json_view(v)}});
          return true;
        },
        why);
      out = std::move(windows);
      return ok;
    };
    auto index = add_table(name, {.partitions = opts.partitions}, std::move(make_store),
                           std::move(view));
    mark_windowed(index, spec, hooks);
    return mephisto::windowed_table<K, V>{index, std::move(name), spec};
  }

  /// Joins two streams by key within `window` of event time (Kafka Streams' windowed
  /// KStream–KStream join): `fn(key, left, right, ctx)` runs once for every left and right
  /// record of the same key whose timestamps differ by at most `window`, when the later
  /// processed of the two arrives. With `join_kind::left`, a left record that found no
  /// match gets `fn(key, left, nullptr, ctx)` once, when its window closed.
  ///
  /// Each side is buffered in a windowed table (`<name>-left`, `<name>-right`: buckets of
  /// `window` per key, deleted `window` + grace after their end) with the same changelog
  /// and recovery as any table; the join's clock is the highest event time of both sides,
  /// per partition. A record whose bucket closed is late (counted, not joined). The agents
  /// are `join-<name>-left` and `-right`; the topics must be co-partitioned (the tables
  /// take the left topic's partition count; a right topic of another count is refused at
  /// start, naming both).
  template <class K, class L, class R, class F>
  void join(std::string name, const mephisto::topic<K, L>& left,
            const mephisto::topic<K, R>& right, std::chrono::milliseconds window, F fn,
            join_options opts = {});

  /// Sets what gets each window of `t` once it closes: `fn(key, window, value, ctx)`, run
  /// at the end of the batch that moved the table's clock past the window's grace, in
  /// that batch (under exactly-once its sends commit with it: once per window). A callback
  /// that throws is logged and its sends dropped; the window closes all the same.
  template <class K, class V, class F>
  void on_window_close(const mephisto::windowed_table<K, V>& t, F fn) {
    static_assert(std::is_invocable_v<F&, const K&, const window&, const V&, context&>,
                  "a window-close callback takes (const K&, const window&, const V&, context&)");
    auto hooks = std::static_pointer_cast<window_hooks<K, V>>(window_hooks_of(t.index()));
    hooks->on_close = std::move(fn);
  }

  /// Declares an agent: `fn` runs for every event of `source`, one actor per partition,
  /// in offset order. `fn` takes `(const V&, context&)` or `(const K&, const V&, context&)`.
  ///
  /// A batch agent's `fn` takes `(std::span<const taken<K, V>>, context&)` (Faust's
  /// `stream.take`): it runs with `opts.take.max_events` events of one partition, or fewer
  /// once the first has waited `opts.take.within`, for bulk writes to other systems. Their
  /// offsets are committed only after `fn` returned (and what it sent is delivered);
  /// `taken<K, std::optional<V>>` receives tombstones as `nullopt`. See batch_body.hpp.
  template <class K, class V, class F>
  void agent(std::string name, const mephisto::topic<K, V>& source, F fn,
             agent_options opts = {}) {
    using batch = std::span<const taken<K, V>>;
    using optional_batch = std::span<const taken<K, std::optional<V>>>;
    if constexpr (std::is_invocable_v<F&, batch, context&>) {
      auto take = opts.take;
      add_agent(std::move(name), source.index(), std::move(opts), [fn, take] {
        return std::make_unique<batch_agent_body<K, V, F>>(fn, take);
      });
      return;
    } else if constexpr (std::is_invocable_v<F&, optional_batch, context&>) {
      auto take = opts.take;
      add_agent(std::move(name), source.index(), std::move(opts), [fn, take] {
        return std::make_unique<batch_agent_body<K, std::optional<V>, F>>(fn, take);
      });
      return;
    } else {
      static_assert(std::is_invocable_v<F&, const V&, context&>
                      || std::is_invocable_v<F&, const K&, const V&, context&>,
                    "an agent function takes (const V&, context&), "
                    "(const K&, const V&, context&) or (std::span<const taken<K, V>>, context&)");
      add_agent(std::move(name), source.index(), std::move(opts),
                [fn] { return std::make_unique<typed_agent_body<K, V, F>>(fn); });
    }
  }

  /// Runs `fn(ctx)` every `interval` of the wall clock (Faust's `@app.timer`), with sends
  /// through `ctx` (under exactly-once in a transaction of its own batch). A timer that
  /// throws is logged and runs again at its next tick. Timers run in the agent `timers`
  /// of the internal one-partition topic `<app-id>-leader`.
  template <class F>
  void timer(std::chrono::milliseconds interval, F fn, timer_options opts = {}) {
    static_assert(std::is_invocable_v<F&, context&>, "a timer takes (context&)");
    add_timer(interval, std::function<void(context&)>(std::move(fn)), opts);
  }

  /// Runs `fn(ctx)` at the minutes crontab expression `expr` names ("*/5 * * * *", "0 9 *
  /// * MON-FRI"), in `opts.timezone` (Faust's `@app.crontab`; see cron_schedule), as a
  /// timer does: on the leader, with sends in its batch. Checked every second; a time
  /// missed while no instance held the leader partition is not made up. Throws
  /// `std::invalid_argument` for a bad expression or an unknown zone.
  template <class F>
  void crontab(const std::string& expr, F fn, crontab_options opts = {}) {
    static_assert(std::is_invocable_v<F&, context&>, "a crontab timer takes (context&)");
    add_crontab(expr, std::function<void(context&)>(std::move(fn)), opts);
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
  /// What the web views need of a table of `K` to `V`.
  template <class K, class V>
  static topology::table_view plain_view() {
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
    return view;
  }

  uint32_t add_topic(const std::string& name, const topic_options& opts);
  uint32_t add_table(const std::string& name, const table_options& opts,
                     std::function<std::shared_ptr<store_base>(const store_place&)> make_store,
                     topology::table_view view);
  void add_agent(std::string name, uint32_t topic, agent_options opts,
                 std::function<std::unique_ptr<agent_body>()> make_body);
  /// Marks internal topic `topic` (made by `group_by`, without a partition count) to take
  /// the partition count of the tables its agents use.
  void follow_tables(uint32_t topic);
  /// Refuses a window shape that cannot work (std::invalid_argument naming the table).
  static void check_window_spec(const std::string& table, const window_spec& spec,
                                bool can_merge);
  void mark_fed(uint32_t table, uint32_t topic);
  uint32_t add_global(const std::string& name, uint32_t topic,
                      std::function<std::shared_ptr<global_store_base>()> make_store,
                      topology::table_view view);
  void add_timer(std::chrono::milliseconds interval, std::function<void(context&)> fn,
                 const timer_options& opts);
  void add_crontab(const std::string& expr, std::function<void(context&)> fn,
                   const crontab_options& opts);
  /// The agent `timers` on the leader topic (declared by the first timer).
  topology::agent_def& timers_agent();
  void mark_windowed(uint32_t table, const window_spec& spec, std::shared_ptr<void> hooks);
  const std::shared_ptr<void>& window_hooks_of(uint32_t table) const;

  std::shared_ptr<topology> topo_;
};

} // namespace mephisto

#include "mephisto/app_join.hpp"
