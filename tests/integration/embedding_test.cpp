// Mephisto inside a user's own actor system: two workers beside the user's actors, the
// handles of actor_api.hpp, a failing worker seen through a monitor, the bounds of writers
// and subscriptions, and lifecycle events. All on an embedded broker in this process.

#include "integration/embedding_support.hpp"

using namespace embedding_suite;

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

