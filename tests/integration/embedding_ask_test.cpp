// Asking an agent from a user's actor (Faust's agent.ask): answers, timeouts, and replies
// routed back from the instance that processed the event. On an embedded broker.

#include "integration/embedding_support.hpp"

using namespace embedding_suite;

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

