// Mephisto inside a user's own actor system: two workers beside the user's actors, the
// handles of actor_api.hpp, a failing worker seen through a monitor, and the bounds of
// writers and subscriptions. All on an embedded broker in this process.

#include <chrono>
#include <algorithm>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <caf/all.hpp>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/mephisto.hpp"
#include "mephisto/worker.hpp"
#include "support/testkit.hpp"

using namespace std::chrono_literals;

namespace {

using word_writer = mephisto::topic_writer<std::string, std::string>;
using word_request = mephisto::write_request<std::string, std::string>;
using count_batch = mephisto::record_batch<std::string, std::int64_t>;
using hold_atom = caf::atom_constant<caf::atom("hold")>;
using release_atom = caf::atom_constant<caf::atom("release")>;

/// The colors app; `out` and `counts` give its output topic and table.
struct colors_app {
  mephisto::app app{"embedding"};
  mephisto::topic<std::string, std::string> input = app.topic<std::string>("input");
  mephisto::topic<std::string, std::string> colors
    = app.topic<std::string>("colors_topic", {.internal = true});
  mephisto::topic<std::string, std::int64_t> out = app.topic<std::string, std::int64_t>("output");
  mephisto::table<std::string, std::int64_t> counts
    = app.table<std::string, std::int64_t>("colors-count");

  colors_app() {
    auto colors_topic = colors;
    auto output = out;
    auto table = counts;
    app.agent("filter_colors", input, [=](const std::string& word, mephisto::context& ctx) {
      if (word == "red" || word == "green" || word == "blue")
        ctx.send(colors_topic, word, word);
    });
    app.agent("colors_count", colors, [=](const std::string& color, mephisto::context& ctx) {
        ctx.send(output, color, ++ctx[table][color]);
      }, {.tables = {table}});
  }
};

mephisto::worker_options options(const std::string& broker) {
  mephisto::worker_options opts;
  opts.broker = broker;
  opts.log_level = "warn";
  opts.commit_interval_ms = 200;
  opts.cluster_secret = "s3cret";
  opts.table_standby_replicas = 0;
  return opts;
}

/// An embedded broker with every topic of `app`.
std::unique_ptr<mephisto::kafka::embedded_broker> broker_for(const mephisto::app& app,
                                                             const mephisto::worker_options& opts) {
  auto broker = std::make_unique<mephisto::kafka::embedded_broker>();
  EXPECT_FALSE(broker->start());
  for (auto& spec : app.resolve(opts)->topic_specs(opts.topic_partitions))
    EXPECT_FALSE(broker->create_topic(spec.name, spec.partitions > 0 ? spec.partitions : 8));
  return broker;
}

/// The user's system: two scheduler threads of its own choosing, plus Mephisto's needs.
std::unique_ptr<caf::actor_system_config> user_config(const mephisto::worker_options& opts) {
  auto cfg = std::make_unique<caf::actor_system_config>();
  cfg->set("scheduler.max-threads", 2);
  EXPECT_FALSE(mephisto::configure(*cfg, opts));
  return cfg;
}

/// A user actor that answers `get` with how often it was asked.
caf::behavior counter_actor(caf::event_based_actor*) {
  auto asked = std::make_shared<int>(0);
  return {[=](caf::get_atom) { return ++*asked; }};
}

/// Writes `words` through `writer`, waiting for every answer; returns how many succeeded.
size_t write_all(caf::scoped_actor& self, const word_writer& writer,
                 const std::vector<std::string>& words) {
  size_t ok = 0;
  for (auto& w : words)
    self->request(writer, 20s, word_request{w, w})
      .receive([&](mephisto::record_position pos) { ok += pos.offset >= 0 ? 1 : 0; },
               [&](caf::error& err) { ADD_FAILURE() << mephisto::render(err); });
  return ok;
}

/// The lifecycle events an actor received, readable from the test's thread.
struct event_log {
  std::mutex mtx;
  std::vector<mephisto::lifecycle_event> events;

  size_t count(mephisto::lifecycle_event::kind k) {
    std::lock_guard<std::mutex> guard{mtx};
    return std::count_if(events.begin(), events.end(), [k](auto& e) { return e.what == k; });
  }

  std::vector<mephisto::lifecycle_event> copy() {
    std::lock_guard<std::mutex> guard{mtx};
    return events;
  }
};

caf::behavior event_collector(caf::event_based_actor*, std::shared_ptr<event_log> log) {
  return {[=](mephisto::lifecycle_event& ev) {
    std::lock_guard<std::mutex> guard{log->mtx};
    log->events.push_back(std::move(ev));
  }};
}

using testkit::eventually;

/// One worker of the colors app (cluster off) in a user's actor system, on an embedded
/// broker of its own; not started. Members end in reverse order: the worker first.
struct one_worker {
  colors_app c;
  mephisto::worker_options opts = options("embedded");
  std::unique_ptr<mephisto::kafka::embedded_broker> broker;
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<mephisto::worker> w;

  one_worker() {
    opts.cluster_listen = "off";
    broker = broker_for(c.app, opts);
    opts.broker = broker->url();
    cfg = user_config(opts);
    sys = std::make_unique<caf::actor_system>(*cfg);
    w = std::make_unique<mephisto::worker>(*sys, c.app, opts);
  }
};

} // namespace

TEST(embedding, two_workers_share_the_users_system_and_leave_it_running) {
  colors_app c;
  auto opts = options("embedded");
  auto broker = broker_for(c.app, opts);
  opts.broker = broker->url();
  auto cfg = user_config(opts);
  caf::actor_system sys{*cfg};
  auto mine = sys.spawn(counter_actor);
  auto a = std::make_unique<mephisto::worker>(sys, c.app, opts);
  ASSERT_FALSE(a->start());
  auto opts_b = opts;
  opts_b.cluster_seeds = a->cluster_address();
  mephisto::worker b{sys, c.app, opts_b};
  ASSERT_FALSE(b.start());
  // Write once the group is stable (both hold a share of the 16 topic partitions): a
  // rebalance mid-stream would let at-least-once count some words twice.
  ASSERT_TRUE(eventually([&] {
    auto x = a->stats().assigned.load();
    auto y = b.stats().assigned.load();
    return x > 0 && y > 0 && x + y == 16;
  }, 60s));
  std::this_thread::sleep_for(1s); // and the instances know each other (heartbeats)
  caf::scoped_actor self{sys};
  auto writer = a->writer(c.input);
  ASSERT_TRUE(writer) << mephisto::render(writer.error());
  auto words = testkit::make_words(2000, 7);
  ASSERT_EQ(write_all(self, *writer, words.words), words.words.size());
  auto output = testkit::consume(broker->bootstrap(), c.app.resolve(opts)->topics[2].kafka_name,
                                 words.color_words, 60s);
  testkit::expect_exact_running_counts(output, words.colors);
  // Typed lookups through either worker, routed to the owner of the key's partition.
  for (auto* w : {a.get(), &b}) {
    auto reader = w->reader(c.counts);
    ASSERT_TRUE(reader);
    for (auto& [color, n] : words.colors) {
      std::optional<std::int64_t> got;
      self->request(*reader, 10s, mephisto::get_request<std::string>{color})
        .receive([&](std::optional<std::int64_t>& v) { got = v; },
                 [&](caf::error& err) { ADD_FAILURE() << color << ": " << mephisto::render(err); });
      EXPECT_EQ(got, std::optional<std::int64_t>{n}) << color;
    }
  }
  // Stopping one worker ends its actors only: the user's actor and the other worker go on.
  auto a_actor = a->as_actor();
  self->monitor(a_actor);
  a->stop();
  EXPECT_FALSE(a->wait());
  bool a_down = false;
  self->receive([&](caf::down_msg& dm) { a_down = dm.source == a_actor.address(); },
                caf::after(10s) >> [] {});
  EXPECT_TRUE(a_down);
  a.reset();
  int asked = 0;
  self->request(mine, 5s, caf::get_atom::value).receive([&](int n) { asked = n; },
                                                        [](caf::error&) {});
  EXPECT_EQ(asked, 1);
  auto reader_b = b.reader(c.counts);
  ASSERT_TRUE(reader_b);
  auto red = words.colors["red"];
  std::string last;
  EXPECT_TRUE(eventually([&] { // b takes over a's partitions, then answers for every key
    std::optional<std::int64_t> got;
    self->request(*reader_b, 5s, mephisto::get_request<std::string>{"red"})
      .receive([&](std::optional<std::int64_t>& v) { got = v; last = std::to_string(v.value_or(-1)); },
               [&](caf::error& err) { last = mephisto::render(err); });
    return got == std::optional<std::int64_t>{red};
  }, 60s)) << "last answer: " << last << ", b assigned " << b.stats().assigned.load();
  b.stop();
  EXPECT_FALSE(b.wait());
  // The system still runs actors, old and new.
  self->request(mine, 5s, caf::get_atom::value).receive([&](int n) { asked = n; },
                                                        [](caf::error&) {});
  EXPECT_EQ(asked, 2);
  auto fresh = sys.spawn(counter_actor);
  self->request(fresh, 5s, caf::get_atom::value).receive([&](int n) { asked = n; },
                                                         [](caf::error&) {});
  EXPECT_EQ(asked, 1);
  // A handle made by a stopped worker says so.
  self->request(*reader_b, 5s, mephisto::get_request<std::string>{"red"})
    .receive([](std::optional<std::int64_t>&) { ADD_FAILURE() << "answered after stop"; },
             [](caf::error&) {});
  caf::anon_send_exit(mine, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(fresh, caf::exit_reason::user_shutdown);
}

TEST(embedding, a_failing_worker_sends_its_monitors_a_down_msg_with_the_reason) {
  one_worker t;
  auto& sys = *t.sys;
  auto& w = *t.w;
  // A changelog record the table cannot decode: its recovery fails, and so does the worker.
  auto changelog = t.c.app.resolve(t.opts)->tables[0].changelog;
  testkit::produce_keyed(t.broker->bootstrap(), changelog, {{"red", "not a number"}});
  auto events = std::make_shared<event_log>();
  auto collector = sys.spawn(event_collector, events);
  w.subscribe_lifecycle(collector);
  ASSERT_FALSE(w.start());
  caf::scoped_actor self{sys};
  self->monitor(w.as_actor());
  caf::error reason;
  self->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                caf::after(60s) >> [] { ADD_FAILURE() << "no down_msg in 60 s"; });
  EXPECT_TRUE(mephisto::is(reason, mephisto::errc::recovery_failed)) << mephisto::render(reason);
  auto waited = w.wait();
  EXPECT_EQ(waited, reason);
  ASSERT_TRUE(eventually([&] { return events->count(mephisto::lifecycle_event::kind::stopped) == 1; }, 10s));
  EXPECT_EQ(events->copy().back().what, mephisto::lifecycle_event::kind::stopped);
  EXPECT_EQ(events->copy().back().reason, reason);
  caf::anon_send_exit(collector, caf::exit_reason::user_shutdown);
  auto mine = sys.spawn(counter_actor); // the system is fine
  int asked = 0;
  self->request(mine, 5s, caf::get_atom::value).receive([&](int n) { asked = n; },
                                                        [](caf::error&) {});
  EXPECT_EQ(asked, 1);
  caf::anon_send_exit(mine, caf::exit_reason::user_shutdown);
}

TEST(embedding, a_writer_past_its_bound_delays_answers_and_holds_no_more_in_the_producer) {
  one_worker t;
  auto& c = t.c;
  auto& sys = *t.sys;
  auto& w = *t.w;
  ASSERT_FALSE(w.start());
  auto writer = w.writer(c.input, 4);
  ASSERT_TRUE(writer);
  caf::scoped_actor self{sys};
  auto status = [&] {
    mephisto::writer_status st;
    self->request(*writer, 5s, caf::get_atom::value)
      .receive([&](mephisto::writer_status& s) { st = s; },
               [](caf::error& err) { ADD_FAILURE() << mephisto::render(err); });
    return st;
  };
  // The broker goes down: nothing can be acknowledged.
  ASSERT_EQ(rd_kafka_mock_broker_set_down(t.broker->mock(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::vector<caf::actor> requesters; // ten requests, answered only once the broker is back
  auto answered = std::make_shared<std::atomic<int>>(0);
  for (int i = 0; i < 10; ++i)
    requesters.push_back(sys.spawn([=, wr = *writer](caf::event_based_actor* r) {
      r->request(wr, 60s, word_request{"k", "red"}).then(
        [=](mephisto::record_position) { ++*answered; r->quit(); },
        [=](caf::error&) { r->quit(); });
    }));
  ASSERT_TRUE(eventually([&] { auto s = status(); return s.in_flight + s.waiting == 10; }, 10s));
  std::this_thread::sleep_for(500ms);
  auto held = status();
  EXPECT_EQ(held.in_flight, 4u);
  EXPECT_EQ(held.waiting, 6u);
  EXPECT_EQ(answered->load(), 0);
  ASSERT_EQ(rd_kafka_mock_broker_set_up(t.broker->mock(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_TRUE(eventually([&] { return answered->load() == 10; }, 60s));
  auto done = status();
  EXPECT_EQ(done.acknowledged, 10u);
  EXPECT_EQ(done.in_flight + done.waiting + done.failed, 0u);
  // A batch larger than the bound goes alone, answered once all of it is in Kafka.
  mephisto::write_batch<std::string, std::string> batch;
  for (int i = 0; i < 50; ++i)
    batch.records.emplace_back("k" + std::to_string(i), "blue");
  uint64_t written = 0;
  self->request(*writer, 30s, std::move(batch))
    .receive([&](mephisto::batch_written& b) { written = b.records; },
             [](caf::error& err) { ADD_FAILURE() << mephisto::render(err); });
  EXPECT_EQ(written, 50u);
  EXPECT_EQ(status().acknowledged, 60u);
  w.stop();
  EXPECT_FALSE(w.wait());
}

TEST(embedding, a_subscriber_that_stops_reading_holds_back_only_its_subscription) {
  one_worker t;
  auto& c = t.c;
  auto& sys = *t.sys;
  auto& w = *t.w;
  ASSERT_FALSE(w.start());
  // A subscriber that keeps every batch unanswered while told to hold (no credit back).
  auto received = std::make_shared<std::atomic<size_t>>(0);
  auto batches = std::make_shared<std::atomic<size_t>>(0);
  auto sub = sys.spawn([=](caf::event_based_actor* s) -> caf::behavior {
    auto holding = std::make_shared<bool>(true);
    auto held = std::make_shared<std::vector<caf::response_promise>>();
    return {
      [=](count_batch& b) {
        *received += b.records.size();
        ++*batches;
        if (*holding)
          held->push_back(s->make_response_promise()); // answered later, or never
      },
      [=](release_atom) {
        *holding = false;
        for (auto& rp : *held)
          rp.deliver(caf::unit);
        held->clear();
      },
    };
  });
  mephisto::subscription_options so;
  so.batch_size = 100;
  so.max_in_flight = 2;
  ASSERT_TRUE(w.subscribe(c.out, sub, so));
  // A second, fast subscriber of the same topic is not held back.
  auto fast_received = std::make_shared<std::atomic<size_t>>(0);
  auto fast = sys.spawn([=](caf::event_based_actor*) -> caf::behavior {
    return {[=](count_batch& b) { *fast_received += b.records.size(); }};
  });
  ASSERT_TRUE(w.subscribe(c.out, fast, so));
  std::this_thread::sleep_for(1s); // subscriptions start at the end of the topic
  auto writer = w.writer(c.out, 1000);
  ASSERT_TRUE(writer);
  caf::scoped_actor self{sys};
  constexpr int total = 5000;
  for (int i = 0; i < total; ++i)
    self->send(*writer, mephisto::write_request<std::string, std::int64_t>{"k", i});
  EXPECT_TRUE(eventually([&] { return fast_received->load() == total; }, 60s))
    << fast_received->load();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(batches->load(), 2u);             // two batches unanswered: no third
  EXPECT_LE(received->load(), 200u);
  self->send(sub, release_atom::value);
  EXPECT_TRUE(eventually([&] { return received->load() == total; }, 60s)) << received->load();
  w.stop();
  EXPECT_FALSE(w.wait());
  caf::anon_send_exit(sub, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(fast, caf::exit_reason::user_shutdown);
}

TEST(embedding, lifecycle_events_tell_assignment_recovery_revocation_and_the_stop) {
  one_worker t;
  auto& sys = *t.sys;
  auto& w = *t.w;
  auto events = std::make_shared<event_log>();
  auto collector = sys.spawn(event_collector, events);
  w.subscribe_lifecycle(collector); // before start: nothing missed
  ASSERT_FALSE(w.start());
  using kind = mephisto::lifecycle_event::kind;
  // input and colors_topic, 8 partitions each; the table's 8 partitions.
  ASSERT_TRUE(eventually([&] {
    return events->count(kind::assigned) == 16 && events->count(kind::recovered) == 8;
  }, 60s)) << events->count(kind::assigned) << " assigned, " << events->count(kind::recovered)
           << " recovered";
  for (auto& ev : events->copy()) {
    if (ev.what == kind::recovered) {
      EXPECT_EQ(ev.table, "colors-count");
      EXPECT_TRUE(ev.partition >= 0 && ev.partition < 8);
    } else {
      EXPECT_TRUE(ev.topic == "input" || ev.topic == "embedding-colors_topic") << ev.topic;
    }
  }
  w.stop();
  EXPECT_FALSE(w.wait());
  ASSERT_TRUE(eventually([&] { return events->count(kind::stopped) == 1; }, 10s));
  auto all = events->copy();
  EXPECT_EQ(events->count(kind::revoked), 16u);
  EXPECT_EQ(events->count(kind::failed), 0u);
  EXPECT_EQ(all.back().what, kind::stopped);
  EXPECT_FALSE(all.back().reason);
  caf::anon_send_exit(collector, caf::exit_reason::user_shutdown);
}

namespace {

/// An app whose agent answers every question with its length, and one that never answers.
struct ask_app {
  mephisto::app app{"asking"};
  mephisto::topic<std::string, std::string> questions = app.topic<std::string>("questions");
  mephisto::topic<std::string, std::string> ignored = app.topic<std::string>("ignored");

  ask_app() {
    app.agent("answer", questions, [](const std::string& q, mephisto::context& ctx) {
      ctx.reply(static_cast<std::int64_t>(q.size()));
    });
    app.agent("silent", ignored, [](const std::string&, mephisto::context&) {});
  }
};

/// Asks `n` questions "q", "qq", ... with distinct keys through `asker`, all at once;
/// returns how many were answered with their length.
int ask_all(caf::scoped_actor& self,
            const mephisto::agent_asker<std::string, std::string, std::int64_t>& asker, int n) {
  for (int i = 1; i <= n; ++i) // answers come back as messages, collected below
    self->send(asker, mephisto::ask_request<std::string, std::string>{
                        "k" + std::to_string(i), std::string(static_cast<size_t>(i), 'q')});
  int right = 0;
  std::set<std::int64_t> lengths;
  for (int i = 0; i < n; ++i)
    self->receive([&](std::int64_t len) { lengths.insert(len); },
                  [&](caf::error& err) { ADD_FAILURE() << mephisto::render(err); },
                  caf::after(60s) >> [&] { i = n; ADD_FAILURE() << "no more answers"; });
  for (int i = 1; i <= n; ++i)
    right += lengths.count(i);
  return right;
}

} // namespace

TEST(embedding, an_asker_gets_the_agents_reply_and_a_clear_timeout_without_one) {
  ask_app q;
  auto opts = options("embedded");
  opts.cluster_listen = "off";
  auto broker = broker_for(q.app, opts);
  opts.broker = broker->url();
  auto cfg = user_config(opts);
  caf::actor_system sys{*cfg};
  mephisto::worker w{sys, q.app, opts};
  ASSERT_FALSE(w.start());
  auto asker = w.asker<std::int64_t>(q.questions);
  ASSERT_TRUE(asker);
  caf::scoped_actor self{sys};
  EXPECT_EQ(ask_all(self, *asker, 100), 100);
  // An agent that never replies: the asker says so after its timeout; the event is processed.
  auto impatient = w.asker<std::int64_t>(q.ignored, 1500ms);
  ASSERT_TRUE(impatient);
  caf::error err;
  self->request(*impatient, 30s, mephisto::ask_request<std::string, std::string>{"k", "hello?"})
    .receive([](std::int64_t) { ADD_FAILURE() << "an answer nobody gave"; },
             [&](caf::error& e) { err = e; });
  EXPECT_TRUE(mephisto::is(err, mephisto::errc::timeout)) << mephisto::render(err);
  w.stop();
  EXPECT_FALSE(w.wait());
}

TEST(embedding, replies_come_back_from_the_instance_that_processed_the_event) {
  ask_app q;
  auto opts = options("embedded");
  auto broker = broker_for(q.app, opts);
  opts.broker = broker->url();
  auto cfg = user_config(opts);
  caf::actor_system sys{*cfg};
  mephisto::worker a{sys, q.app, opts};
  ASSERT_FALSE(a.start());
  auto opts_b = opts;
  opts_b.cluster_seeds = a.cluster_address();
  mephisto::worker b{sys, q.app, opts_b};
  ASSERT_FALSE(b.start());
  // Both hold partitions of `questions`.
  ASSERT_TRUE(eventually([&] {
    return a.stats().assigned.load() > 0 && b.stats().assigned.load() > 0
           && a.stats().assigned.load() + b.stats().assigned.load() == 16;
  }, 60s));
  std::this_thread::sleep_for(2s); // the instances know each other (heartbeats)
  auto asker = a.asker<std::int64_t>(q.questions);
  ASSERT_TRUE(asker);
  caf::scoped_actor self{sys};
  auto before_b = b.stats().events.load();
  EXPECT_EQ(ask_all(self, *asker, 200), 200);
  EXPECT_GT(b.stats().events.load(), before_b); // b answered some: through the cluster
  b.stop();
  EXPECT_FALSE(b.wait());
  a.stop();
  EXPECT_FALSE(a.wait());
}
