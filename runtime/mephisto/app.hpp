#pragma once

#include <functional>
#include <memory>
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

namespace detail {
struct no_type {};
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

  std::shared_ptr<topology> topo_;
};

} // namespace mephisto
