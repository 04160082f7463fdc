// Mephisto's side of bench/compare.sh's `windows` and `join` workloads, the peers of
// bench/peers/kstreams' WindowCountStreams and JoinStreams: the same input, the same
// output records.
//
//   WORKLOAD=windows  events (key k<n>, event time = the record's timestamp) -> a count per
//                     key in one-minute tumbling windows, grace 0 (`window_counts`) -> once
//                     a window closes, "<key>@<window start>" = the count to OUTPUT_TOPIC.
//   WORKLOAD=join     users (u<n> -> country) feeds the table `users`; clicks (u<n> ->
//                     page) joined with it -> "<page>,<country>" to OUTPUT_TOPIC.
//                     JOIN=table: `table_from` (co-partitioned, Kafka Streams' KTable);
//                     JOIN=global: `global_table` (Kafka Streams' GlobalKTable).
//
//   WORKLOAD=windows OUTPUT_TOPIC=out mephisto-stream-ops worker --broker kafka://host:port
//
// A fed table has no "load first": the clicks and users partitions are consumed side by
// side, so a click can come before its user. The join then throws, and the agent's retry
// (backoff 10 ms, doubling) runs it again once the table caught up; compare.sh passes
// `--retry_attempts 30`. Kafka Streams orders the two by timestamp instead. A global
// table is loaded before the agents start: a missing user there is an error of the input.

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>

#include <mephisto/mephisto.hpp>

namespace {

std::string env_or(const char* name, const char* fallback) {
  auto* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

void declare_windows(mephisto::app& app, const std::string& output) {
  using namespace std::chrono_literals;
  auto events = app.topic<std::string, std::string>("events");
  auto out = app.topic<std::string, std::string>(output);
  auto counts = app.windowed_table<std::string, int64_t>("window_counts",
                                                         mephisto::tumbling(60s), {.grace = 0ms});
  app.agent(
    "count", events,
    [=](const std::string& key, const std::string&, mephisto::context& ctx) {
      ctx[counts].update(key, [](int64_t& n) { ++n; });
    },
    {.tables = {counts}});
  app.on_window_close(counts, [=](const std::string& key, const mephisto::window& w,
                                  const int64_t& n, mephisto::context& ctx) {
    ctx.send(out, key + "@" + std::to_string(w.start), std::to_string(n));
  });
}

void declare_join(mephisto::app& app, const std::string& output, bool global) {
  auto users = app.topic<std::string, std::string>("users");
  auto clicks = app.topic<std::string, std::string>("clicks");
  auto out = app.topic<std::string, std::string>(output);
  std::string joined; // per agent partition: each runs its own copy of the function
  auto send_joined = [=](const std::string& user, const std::string& page,
                         const std::string* country, mephisto::context& ctx) mutable {
    if (country == nullptr)
      throw std::runtime_error("user " + user + " is not in the table (yet)");
    joined.clear();
    joined.append(page).append(",").append(*country);
    ctx.send(out, user, joined);
  };
  if (global) {
    auto countries = app.global_table("users", users);
    app.agent("join", clicks,
              [=](const std::string& user, const std::string& page,
                  mephisto::context& ctx) mutable {
                bool found = ctx[countries].visit(user, [&](const std::string& country) {
                  send_joined(user, page, &country, ctx);
                });
                if (!found)
                  send_joined(user, page, nullptr, ctx);
              });
    return;
  }
  auto countries = app.table_from("users", users);
  app.agent(
    "join", clicks,
    [=](const std::string& user, const std::string& page, mephisto::context& ctx) mutable {
      send_joined(user, page, ctx[countries].get(user), ctx);
    },
    {.tables = {countries}});
}

} // namespace

int main(int argc, char** argv) {
  auto workload = env_or("WORKLOAD", "windows");
  auto output = env_or("OUTPUT_TOPIC", "output");
  mephisto::app app{"stream-ops"};
  if (workload == "windows") {
    declare_windows(app, output);
  } else if (workload == "join") {
    auto join = env_or("JOIN", "table");
    if (join != "table" && join != "global") {
      std::cerr << "mephisto-stream-ops: JOIN must be table or global, not " << join << "\n";
      return 64;
    }
    declare_join(app, output, join == "global");
  } else {
    std::cerr << "mephisto-stream-ops: WORKLOAD must be windows or join, not " << workload
              << "\n";
    return 64;
  }
  return app.main(argc, argv);
}
