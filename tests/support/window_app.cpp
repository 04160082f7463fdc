// A test app with a windowed table: counts the events of every key in one-second tumbling
// windows of the event time the value carries (ms since the epoch, in decimal), and sends
// each window's final count to `window-finals` as "<window start> <count>" under the key.
// The crash tests check that every window gets exactly one final result (exactly-once),
// equal to what they computed from the events they fed.
//
// With `--take_sink` (taken off the command line before `main`), a batch agent (`take`)
// on the same events writes each batch of at most 100 events, or what came within 300 ms,
// to `sink-batches` as one record: "key@at" items joined by commas. The exactly-once
// crash test checks that every event is in exactly one batch. (Both agents share the
// topic's committed offsets; at-least-once, the count would then repeat what the sink
// held at a crash, which the at-least-once test does not allow for.)

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

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
  auto batches = app.topic<std::string, std::string>("sink-batches");
  bool take_sink = false;
  for (int i = 1; i < argc; ++i)
    if (std::string_view{argv[i]} == "--take_sink") {
      take_sink = true;
      for (int j = i; j + 1 < argc; ++j)
        argv[j] = argv[j + 1];
      --argc;
      break;
    }
  if (take_sink)
    app.agent(
      "sink", events,
      [=](std::span<const mephisto::taken<std::string, std::string>> evs,
          mephisto::context& ctx) {
        std::string items;
        for (auto& e : evs)
          items.append(items.empty() ? "" : ",").append(e.key).append("@").append(e.value);
        ctx.send(batches, std::to_string(ctx.partition()), items);
      },
      {.take = {.max_events = 100, .within = 300ms}});
  return app.main(argc, argv);
}
