// A CAF program of its own with the colors app inside. Its actors:
// - a generator that writes words to `input` through a topic writer, a window of requests
//   at a time (each answered once Kafka has the record);
// - a dashboard that receives the running counts of `output` through a subscription;
//   once every color is counted, the program reads the counts through a table reader;
// - a watcher that monitors the worker and reports how it ended.
// The worker runs on the embedded broker in this program's actor system; when it stops,
// the system and the program's own actors go on. Exits 0 when every check passed.
//
//   embed_colors [--words N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include <mephisto/mephisto.hpp>
#include <mephisto/worker.hpp>

// The package promises that user code never sees these.
#ifdef RD_KAFKA_VERSION
#error "mephisto/mephisto.hpp exposes librdkafka's header"
#endif
#ifdef ROCKSDB_MAJOR
#error "mephisto/mephisto.hpp exposes RocksDB's headers"
#endif

using namespace std::chrono_literals;
using word_writer = mephisto::topic_writer<std::string, std::string>;
using count_reader = mephisto::table_reader<std::string, std::int64_t>;
using counts_batch = mephisto::record_batch<std::string, std::int64_t>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using next_atom = caf::atom_constant<caf::atom("next")>;
using ended_atom = caf::atom_constant<caf::atom("ended")>;

const std::vector<std::string> words{"red", "green", "blue", "purple"};

/// Writes `total` words, at most 64 unanswered at a time; tells `report` when Kafka has
/// them all.
caf::behavior generator(caf::event_based_actor* self, word_writer writer, int total,
                        caf::actor report) {
  auto sent = std::make_shared<int>(0);
  auto acked = std::make_shared<int>(0);
  auto send_one = [=] {
    if (*sent == total)
      return;
    auto& word = words[static_cast<size_t>(*sent) % words.size()];
    ++*sent;
    self->request(writer, 10s, mephisto::write_request<std::string, std::string>{word, word})
      .then(
        [=](mephisto::record_position) {
          if (++*acked == total)
            self->send(report, done_atom::value, *acked);
          else
            self->send(self, next_atom::value);
        },
        [=](caf::error& err) {
          std::fprintf(stderr, "generator: %s\n", mephisto::render(err).c_str());
          self->quit(err);
        });
  };
  for (int i = 0; i < 64 && *sent < total; ++i)
    send_one();
  return {
    [=](next_atom) { send_one(); },
    [=](caf::get_atom) { return *acked; }, // still answers after the worker stopped
  };
}

struct dashboard_state {
  std::map<std::string, std::int64_t> latest; ///< the highest running count per color
  std::int64_t per_color = 0;
  caf::actor report;
};

/// Keeps the highest running count of each color; tells `report` once every color reached
/// `per_color` (at-least-once: a record may be counted twice, never lost).
caf::behavior dashboard(caf::stateful_actor<dashboard_state>* self, std::int64_t per_color,
                        caf::actor report) {
  self->state.per_color = per_color;
  self->state.report = std::move(report);
  return {
    [=](counts_batch& batch) { // returning gives the subscription its credit back
      auto& st = self->state;
      for (auto& r : batch.records)
        st.latest[r.key] = std::max(st.latest[r.key], r.value);
      std::int64_t sum = 0;
      size_t complete = 0;
      for (auto& [color, n] : st.latest) {
        sum += n;
        complete += n >= st.per_color ? 1 : 0;
      }
      if (complete == 3 && st.report) {
        self->send(st.report, done_atom::value, static_cast<int>(sum));
        st.report = nullptr;
      }
    },
    [=](caf::get_atom, const std::string& color) { return self->state.latest[color]; },
  };
}

int main(int argc, char** argv) {
  int total = 3000;
  if (argc == 3 && std::string{argv[1]} == "--words")
    total = std::max(4, std::atoi(argv[2]));
  // The colors app, declared as in apps/colors.
  mephisto::app app{"embed-colors"};
  auto input = app.topic<std::string>("input");
  auto colors = app.topic<std::string>("colors_topic", {.internal = true});
  auto output = app.topic<std::string, std::int64_t>("output");
  auto counts = app.table<std::string, std::int64_t>("colors-count");
  app.agent("filter_colors", input, [=](const std::string& word, mephisto::context& ctx) {
    if (word == "red" || word == "green" || word == "blue")
      ctx.send(colors, word, word);
  });
  app.agent("colors_count", colors, [=](const std::string& color, mephisto::context& ctx) {
      auto n = ++ctx[counts][color];
      ctx.send(output, color, n);
    }, {.tables = {counts}});

  // This program's actor system: its own settings, plus what Mephisto needs.
  mephisto::worker_options opts;
  opts.broker = "embedded";
  opts.web_listen = "127.0.0.1:0"; // /metrics, /ready, ... on a free port (default 6066)
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  if (auto err = mephisto::configure(cfg, opts)) {
    std::fprintf(stderr, "%s\n", mephisto::render(err).c_str());
    return 1;
  }
  caf::actor_system sys{cfg};
  mephisto::worker worker{sys, app, opts};
  if (auto err = worker.start()) {
    std::fprintf(stderr, "%s\n", mephisto::render(err).c_str());
    return 1;
  }
  caf::scoped_actor self{sys};
  auto watcher = sys.spawn([me = caf::actor{self}, w = worker.as_actor()](
                             caf::event_based_actor* s) -> caf::behavior {
    s->monitor(w);
    s->set_down_handler([=](caf::down_msg& dm) {
      s->send(me, ended_atom::value, dm.reason);
      s->quit();
    });
    return {[](caf::get_atom) {}}; // an actor without a behavior would end at once
  });
  auto per_color = static_cast<std::int64_t>(total / 4); // red, green, blue, purple, ...
  auto board = sys.spawn(dashboard, per_color, caf::actor{self});
  auto subscription = worker.subscribe(output, board);
  auto writer = worker.writer(input);
  auto reader = worker.reader(counts);
  if (!subscription || !writer || !reader) {
    std::fprintf(stderr, "cannot make the handles\n");
    return 1;
  }
  auto gen = sys.spawn(generator, *writer, total, caf::actor{self});
  int failures = 0;
  auto expect = [&](bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    failures += ok ? 0 : 1;
  };
  // Both the generator (every record acknowledged) and the dashboard (every color counted).
  for (int done = 0; done < 2;)
    self->receive(
      [&](done_atom, int n) {
        std::printf("done: %d\n", n);
        ++done;
      },
      caf::after(60s) >> [&] {
        done = 2;
        expect(false, "words written and counted within 60 s");
      });
  for (auto& color : {"red", "green", "blue"}) {
    std::int64_t shown = 0;
    self->request(board, 5s, caf::get_atom::value, std::string{color})
      .receive([&](std::int64_t n) { shown = n; }, [&](caf::error&) {});
    self->request(*reader, 10s, mephisto::get_request<std::string>{color})
      .receive(
        [&](std::optional<std::int64_t>& n) {
          expect(n && *n == shown && shown == per_color,
                 std::string{color} + ": table " + std::to_string(n.value_or(-1))
                   + ", dashboard " + std::to_string(shown));
        },
        [&](caf::error& err) { expect(false, std::string{color} + ": " + mephisto::render(err)); });
  }
  // Purple's table partition saw no event: on a busy machine its shard may still be
  // recovering, and a lookup then answers not_ready ("try again"), as documented.
  for (auto deadline = std::chrono::steady_clock::now() + 30s;;) {
    bool again = false;
    self->request(*reader, 10s, mephisto::get_request<std::string>{"purple"})
      .receive([&](std::optional<std::int64_t>& n) { expect(!n, "purple is not counted"); },
               [&](caf::error& err) {
                 again = mephisto::is(err, mephisto::errc::not_ready)
                         && std::chrono::steady_clock::now() < deadline;
                 if (!again)
                   expect(false, "purple: " + mephisto::render(err));
               });
    if (!again)
      break;
    std::this_thread::sleep_for(100ms);
  }
  worker.stop();
  expect(!worker.wait(), "the worker stopped cleanly");
  self->receive(
    [&](ended_atom, caf::error& reason) {
      expect(!reason || reason == caf::exit_reason::normal,
             "the watcher saw the worker end normally");
    },
    caf::after(10s) >> [&] { expect(false, "the watcher saw the worker end"); });
  // The system and this program's actors go on.
  self->request(gen, 5s, caf::get_atom::value)
    .receive(
      [&](int acked) {
        expect(acked == total, "the generator still answers (" + std::to_string(acked)
                                 + " records acknowledged)");
      },
      [&](caf::error& err) { expect(false, "generator: " + mephisto::render(err)); });
  for (auto& a : {gen, board, watcher})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  return failures == 0 ? 0 : 1;
}
