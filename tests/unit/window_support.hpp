#pragma once

// What the windowed-table unit tests share: a counting app whose windows send their final
// counts, and those results read back. Every truth is computed by the tests themselves.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "mephisto/testing.hpp"

namespace window_support {

using namespace mephisto;

constexpr int64_t t0 = 1704067200000; // 2024-01-01T00:00:00Z, a whole minute

/// One final result: key, window, value.
using final_result = std::tuple<std::string, int64_t, int64_t, int64_t>;

/// Counts events per key in `spec`'s windows and sends each window's final count to
/// `finals` as "start:end" -> count (the topic's key is the user).
struct counting_app {
  app a{"windows"};
  topic<std::string, std::string> events = a.topic<std::string>("events");
  topic<std::string, std::string> finals = a.topic<std::string>("finals");
  windowed_table<std::string, int64_t> counts;

  counting_app(window_spec spec, windowed_options opts)
    : counts(a.windowed_table<std::string, int64_t>("counts", spec, opts)) {
    a.agent("count", events,
            [t = counts](const std::string& user, const std::string&, context& ctx) {
              ctx[t].update(user, [](int64_t& n) { ++n; });
            },
            {.tables = {counts}});
    a.on_window_close(counts, [f = finals](const std::string& user, const window& w,
                                           const int64_t& n, context& ctx) {
      ctx.send(f, user, std::to_string(w.start) + ":" + std::to_string(w.end) + "=" + std::to_string(n));
    });
  }
};

inline std::vector<final_result> finals_of(mephisto::testing::driver& d, const topic<std::string, std::string>& t) {
  std::vector<final_result> out;
  for (auto& r : d.read(t)) {
    auto colon = r.value.find(':');
    auto eq = r.value.find('=');
    out.emplace_back(r.key, std::stoll(r.value.substr(0, colon)),
                     std::stoll(r.value.substr(colon + 1, eq - colon - 1)),
                     std::stoll(r.value.substr(eq + 1)));
  }
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace window_support
