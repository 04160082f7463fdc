// Asking an agent under exactly-once on the real broker: the reply comes only once the
// transaction that processed the event committed.

#include <chrono>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

#include <caf/all.hpp>

#include "integration/real_kafka_worker.hpp"
#include "mephisto/mephisto.hpp"
#include "mephisto/worker.hpp"
#include "support/testkit.hpp"

using namespace std::chrono_literals;

TEST(real_kafka_ask, under_exactly_once_the_reply_waits_for_the_commit) {
  auto bootstrap = real_kafka_worker::bootstrap();
  ASSERT_FALSE(bootstrap.empty()) << "NO REAL KAFKA BROKER (see the kafka.start fixture)";
  auto suffix = std::to_string(::getpid());
  testkit::recreate_topic(bootstrap, "ask-questions-" + suffix, 4);
  mephisto::app app{"ask-eos-" + suffix};
  auto questions = app.topic<std::string>("ask-questions-" + suffix);
  auto answers = app.topic<std::string, std::int64_t>("answers", {.internal = true});
  app.agent("answer", questions, [=](const std::string& q, mephisto::context& ctx) {
    auto len = static_cast<std::int64_t>(q.size());
    ctx.send(answers, q, len);
    ctx.reply(len);
  });
  auto opts = real_kafka_worker::exactly_once_options(bootstrap);
  opts.commit_interval_ms = 1000; // a wide window between processing and commit
  caf::actor_system_config cfg;
  ASSERT_FALSE(mephisto::configure(cfg, opts));
  caf::actor_system sys{cfg};
  mephisto::worker w{sys, app, opts};
  ASSERT_FALSE(w.start());
  ASSERT_TRUE(testkit::eventually([&] { return w.stats().assigned.load() == 4; }, 60s));
  auto asker = w.asker<std::int64_t>(questions);
  ASSERT_TRUE(asker);
  caf::scoped_actor self{sys};
  auto answers_topic = app.resolve(opts)->topics[1].kafka_name;
  for (int i = 1; i <= 5; ++i) {
    std::int64_t got = -1;
    self->request(*asker, 60s, mephisto::ask_request<std::string, std::string>{
                                 "k" + std::to_string(i), std::string(static_cast<size_t>(i), 'q')})
      .receive([&](std::int64_t len) { got = len; },
               [&](caf::error& err) { ADD_FAILURE() << mephisto::render(err); });
    EXPECT_EQ(got, i);
    // The answer's transaction is committed already: nothing is open on `answers`, and a
    // read_committed reader sees every answer so far.
    EXPECT_EQ(testkit::records_in_open_transactions(bootstrap, answers_topic, {0, 1, 2, 3}), 0)
      << i;
    EXPECT_EQ(testkit::consume(bootstrap, answers_topic, static_cast<size_t>(i), 10s).size(),
              static_cast<size_t>(i));
  }
  w.stop();
  EXPECT_FALSE(w.wait());
}
