// `ask_each` / `ask_all` ("ask N actors, count the answers") on CAF's deterministic test
// coordinator: every answer and error is counted once, the round ends once, and a failed
// `ask_all` round never reports success.

#include "mephisto/actors/ask_all.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <gtest/gtest.h>

#include "mephisto/actors/messages.hpp"

using namespace mephisto;

namespace {

/// Answers `drain` with its number, or fails with it when `fail` is set.
using numbered_actor = caf::typed_actor<caf::replies_to<drain_atom>::with<int64_t>>;

numbered_actor::behavior_type numbered(int64_t n, bool fail) {
  return {[=](drain_atom) -> caf::result<int64_t> {
    if (fail)
      return caf::make_error(caf::sec::runtime_error, std::to_string(n));
    return n;
  }};
}

/// What a round saw, in order.
struct round_log {
  std::vector<std::string> events;
};

struct ask_rounds : ::testing::Test {
  ask_rounds() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
  }

  ~ask_rounds() override {
    sched->run();
  }

  std::vector<numbered_actor> targets(std::vector<bool> failing) {
    std::vector<numbered_actor> out;
    for (size_t i = 0; i < failing.size(); ++i)
      out.push_back(sys->spawn(numbered, static_cast<int64_t>(i * 10), bool{failing[i]}));
    return out;
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<round_log> log = std::make_shared<round_log>();
};

} // namespace

TEST_F(ask_rounds, ask_each_counts_every_answer_and_error_then_ends_once) {
  auto to = targets({false, true, false});
  auto log = this->log;
  sys->spawn([=](caf::event_based_actor* self) {
    ask_each(self, to, std::chrono::seconds(1),
             on_answers(
               [=](size_t i, int64_t n) {
                 log->events.push_back("answer " + std::to_string(i) + "=" + std::to_string(n));
               },
               [=](size_t i, caf::error&) { log->events.push_back("error " + std::to_string(i)); },
               [=] { log->events.push_back("done"); }),
             drain_atom::value);
  });
  sched->run();
  ASSERT_EQ(log->events.size(), 4u);
  EXPECT_EQ(log->events.back(), "done");
  std::vector<std::string> firsts(log->events.begin(), log->events.end() - 1);
  std::sort(firsts.begin(), firsts.end());
  EXPECT_EQ(firsts, (std::vector<std::string>{"answer 0=0", "answer 2=20", "error 1"}));
}

TEST_F(ask_rounds, ask_all_ends_at_the_first_error_and_never_reports_success) {
  auto to = targets({false, true, true});
  auto log = this->log;
  sys->spawn([=](caf::event_based_actor* self) {
    ask_all(self, to, std::chrono::seconds(1),
            on_answers([=](size_t, int64_t) { log->events.push_back("answer"); },
                       [=](caf::error&) { log->events.push_back("failed"); },
                       [=] { log->events.push_back("done"); }),
            drain_atom::value);
  });
  sched->run();
  EXPECT_EQ(std::count(log->events.begin(), log->events.end(), "failed"), 1);
  EXPECT_EQ(std::count(log->events.begin(), log->events.end(), "done"), 0);
}

TEST_F(ask_rounds, an_empty_round_is_done_at_once) {
  auto log = this->log;
  sys->spawn([=](caf::event_based_actor* self) {
    ask_all(self, std::vector<numbered_actor>{}, std::chrono::seconds(1),
            on_answers([=](size_t, int64_t) { log->events.push_back("answer"); },
                       [=](caf::error&) { log->events.push_back("failed"); },
                       [=] { log->events.push_back("done"); }),
            drain_atom::value);
  });
  sched->run();
  EXPECT_EQ(log->events, std::vector<std::string>{"done"});
}

TEST_F(ask_rounds, a_target_that_never_answers_times_out_as_an_error) {
  // An actor that takes the request and never answers: the round ends on the timeout.
  auto kept = std::make_shared<std::vector<caf::response_promise>>();
  auto silent = caf::actor_cast<numbered_actor>(
    sys->spawn([kept](caf::event_based_actor* self) -> caf::behavior {
      return {[=](drain_atom) {
        kept->push_back(self->make_response_promise());
        return kept->back();
      }};
    }));
  auto log = this->log;
  sys->spawn([=](caf::event_based_actor* self) {
    ask_each(self, std::vector<numbered_actor>{silent}, std::chrono::seconds(1),
             on_answers([=](size_t, int64_t) { log->events.push_back("answer"); },
                        [=](size_t, caf::error& err) {
                          log->events.push_back(err == caf::sec::request_timeout ? "timeout"
                                                                                 : "error");
                        },
                        [=] { log->events.push_back("done"); }),
             drain_atom::value);
  });
  sched->run();
  EXPECT_TRUE(log->events.empty());
  ASSERT_TRUE(sched->has_pending_timeout());
  sched->trigger_timeouts();
  sched->run();
  EXPECT_EQ(log->events, (std::vector<std::string>{"timeout", "done"}));
  caf::anon_send_exit(silent, caf::exit_reason::user_shutdown);
}
