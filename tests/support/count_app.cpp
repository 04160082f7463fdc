// A test app with many keys: counts the events of every key of `events` in the table
// `counts` and sends each running count to `counts-out`. The crash and store tests run
// it with 1000 keys, where the colors app has only three.

#include <cstdint>
#include <string>

#include <mephisto/mephisto.hpp>

int main(int argc, char** argv) {
  mephisto::app app{"count"};
  auto events = app.topic<std::string, std::string>("events");
  auto out = app.topic<std::string, std::int64_t>("counts-out");
  auto counts = app.table<std::string, std::int64_t>("counts");

  app.agent(
    "count", events,
    [=](const std::string& key, const std::string&, mephisto::context& ctx) {
      auto n = ++ctx[counts][key];
      ctx.send(out, key, n);
    },
    {.tables = {counts}});

  return app.main(argc, argv);
}
