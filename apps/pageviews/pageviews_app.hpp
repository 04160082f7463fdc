#pragma once

// The page-views app's declarations, shared by apps/pageviews/pageviews.cpp and the tests:
// views per user per minute (a tumbling window, one final result each), visits (session
// windows), and every view joined with the user's country from a table fed by a topic.

#include <chrono>
#include <cstdint>
#include <string>

#include <boost/json.hpp>

#include <mephisto/mephisto.hpp>

namespace pageviews {

/// A view of `page` at `ts` (ms since the epoch): the JSON value of `page_views`.
struct page_view {
  std::string page;
  std::int64_t ts = 0;
};

inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, const page_view& v) {
  jv = {{"page", v.page}, {"ts", v.ts}};
}

inline page_view tag_invoke(boost::json::value_to_tag<page_view>, const boost::json::value& jv) {
  auto& o = jv.as_object();
  return {boost::json::value_to<std::string>(o.at("page")), o.at("ts").to_number<std::int64_t>()};
}

/// Declares the pipeline on `app`.
inline void declare(mephisto::app& app) {
  using namespace std::chrono_literals;
  using mephisto::context;
  using mephisto::window;
  auto views = app.topic<std::string, page_view>("page_views");            // key: user
  auto users = app.table_from("users", app.topic<std::string>("users"));  // user -> country
  auto minutes_out = app.topic<std::string>("views_per_minute");          // "start count"
  auto visits_out = app.topic<std::string>("visits");                     // "start end views"
  auto enriched = app.topic<std::string>("enriched_views");               // "page country"
  auto minutes = app.windowed_table<std::string, std::int64_t>(
    "minute_counts", mephisto::tumbling(1min), {.grace = 10s});
  auto visits = app.windowed_table<std::string, std::int64_t>(
    "visit_counts", mephisto::session(30s), {.grace = 10s});

  app.agent(
    "page_views", views,
    [=](const std::string& user, const page_view& v, context& ctx) {
      auto add = [](std::int64_t& n) { ++n; };
      ctx[minutes].update_at(user, v.ts, add);
      ctx[visits].update_at(user, v.ts, add);
      auto* country = ctx[users].get(user);
      ctx.send(enriched, user, v.page + " " + (country ? *country : "unknown"));
    },
    {.tables = {minutes, visits, users}});

  app.on_window_close(minutes, [=](const std::string& user, const window& w,
                                   const std::int64_t& n, context& ctx) {
    ctx.send(minutes_out, user, std::to_string(w.start) + " " + std::to_string(n));
  });
  app.on_window_close(visits, [=](const std::string& user, const window& w,
                                  const std::int64_t& n, context& ctx) {
    ctx.send(visits_out, user,
             std::to_string(w.start) + " " + std::to_string(w.end) + " " + std::to_string(n));
  });
}

} // namespace pageviews
