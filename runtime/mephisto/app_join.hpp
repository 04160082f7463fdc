#pragma once

// `app::join` (declared in app.hpp, which includes this file at its end): the windowed
// stream–stream join, built from two windowed tables and two agents.

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "mephisto/app.hpp"

namespace mephisto {

template <class K, class L, class R, class F>
void app::join(std::string name, const mephisto::topic<K, L>& left,
               const mephisto::topic<K, R>& right, std::chrono::milliseconds window, F fn,
               join_options opts) {
  static_assert(std::is_invocable_v<F&, const K&, const L&, const R*, context&>,
                "a join function takes (const K&, const L&, const R*, context&)");
  if (window.count() <= 0)
    throw std::invalid_argument("join " + name + ": the window must be positive");
  const auto d = window.count();
  windowed_options buffered{.grace = window + opts.grace};
  auto lbuf = windowed_table<K, detail::join_bucket<L>>(name + "-left", tumbling(window),
                                                         buffered);
  auto rbuf = windowed_table<K, detail::join_bucket<R>>(name + "-right", tumbling(window),
                                                         buffered);
  mark_fed(lbuf.index(), left.index());
  mark_fed(rbuf.index(), left.index());
  agent("join-" + name + "-left", left,
        [=](const K& key, const L& l, context& ctx) mutable {
          auto ts = ctx.timestamp();
          auto lb = ctx[lbuf];
          auto rb = ctx[rbuf];
          rb.observe(ts); // one clock for both sides
          std::vector<R> matches;
          for (auto& [w, bucket] : rb.range(key, ts - 2 * d, ts + d))
            for (auto& e : bucket.entries)
              if (e.ts >= ts - d && e.ts <= ts + d)
                matches.push_back(e.value);
          if (!lb.update_at(key, ts, [&](detail::join_bucket<L>& b) {
                b.entries.push_back({ts, !matches.empty(), l});
              }))
            return; // late
          for (auto& r : matches)
            fn(key, l, &r, ctx);
        },
        {.tables = {lbuf, rbuf}});
  agent("join-" + name + "-right", right,
        [=](const K& key, const R& r, context& ctx) mutable {
          auto ts = ctx.timestamp();
          auto lb = ctx[lbuf];
          auto rb = ctx[rbuf];
          lb.observe(ts);
          if (!rb.update_at(key, ts, [&](detail::join_bucket<R>& b) {
                b.entries.push_back({ts, false, r});
              }))
            return; // late
          for (auto& [w, bucket] : lb.range(key, ts - 2 * d, ts + d))
            for (size_t i = 0; i < bucket.entries.size(); ++i) {
              auto& e = bucket.entries[i];
              if (e.ts < ts - d || e.ts > ts + d)
                continue;
              fn(key, e.value, &r, ctx);
              if (!e.matched)
                lb.update_at(key, e.ts, [i](detail::join_bucket<L>& b) {
                  if (i < b.entries.size())
                    b.entries[i].matched = true;
                });
            }
        },
        {.tables = {lbuf, rbuf}});
  if (opts.kind == join_kind::left)
    on_window_close(lbuf, [fn](const K& key, const mephisto::window&,
                               const detail::join_bucket<L>& bucket, context& ctx) mutable {
      for (auto& e : bucket.entries)
        if (!e.matched)
          fn(key, e.value, static_cast<const R*>(nullptr), ctx);
    });
}

} // namespace mephisto
