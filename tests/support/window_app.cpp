// A test app with a windowed table: counts the events of every key in one-second tumbling
// windows of the event time the value carries (ms since the epoch, in decimal), and sends
// each window's final count to `window-finals` as "<window start> <count>" under the key.
// The crash tests check that every window gets exactly one final result (exactly-once),
// equal to what they computed from the events they fed.

#include <chrono>
#include <cstdint>
#include <string>

#include <mephisto/mephisto.hpp>

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  mephisto::app app{"window"};
  auto events = app.topic<std::string, std::string>("events");
  auto finals = app.topic<std::string, std::string>("window-finals");
  auto counts = app.windowed_table<std::string, std::int64_t>("window-counts",
                                                             mephisto::tumbling(1s));
  app.agent(
    "count", events,
    [=](const std::string& key, const std::string& at, mephisto::context& ctx) {
      ctx[counts].update_at(key, std::stoll(at), [](std::int64_t& n) { ++n; });
    },
    {.tables = {counts}});
  app.on_window_close(counts, [=](const std::string& key, const mephisto::window& w,
                                  const std::int64_t& n, mephisto::context& ctx) {
    ctx.send(finals, key, std::to_string(w.start) + " " + std::to_string(n));
  });
  return app.main(argc, argv);
}
