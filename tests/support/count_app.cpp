// A test app with many keys: counts the events of every key of `events` in the table
// `counts` and sends each running count to `counts-out`. The crash and store tests run
// it with 1000 keys, where the colors app has only three.
//
// COUNT_APP_FAIL_AT=n1,n2,...: the user function throws `mephisto::restart_partition` when
// the process has seen n1, n2, ... events (a partition failure, once each).

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include <mephisto/mephisto.hpp>

int main(int argc, char** argv) {
  mephisto::app app{"count"};
  auto events = app.topic<std::string, std::string>("events");
  auto out = app.topic<std::string, std::int64_t>("counts-out");
  auto counts = app.table<std::string, std::int64_t>("counts");

  auto fail_at = std::make_shared<std::set<int64_t>>();
  if (auto spec = std::getenv("COUNT_APP_FAIL_AT")) {
    std::istringstream in{spec};
    for (std::string item; std::getline(in, item, ',');)
      fail_at->insert(std::stoll(item));
  }
  auto seen = std::make_shared<std::atomic<int64_t>>(0);

  app.agent(
    "count", events,
    [=](const std::string& key, const std::string&, mephisto::context& ctx) {
      if (!fail_at->empty() && fail_at->count(seen->fetch_add(1) + 1) > 0)
        throw mephisto::restart_partition("injected partition failure");
      auto n = ++ctx[counts][key];
      ctx.send(out, key, n);
    },
    {.tables = {counts}});

  return app.main(argc, argv);
}
