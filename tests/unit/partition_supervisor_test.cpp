// The partition supervisor's stop protocol, run deterministically on CAF's test
// coordinator: a rewind (exactly-once, after an aborted transaction) is answered once the
// children are gone, whatever order a child's own failure arrives in.

#include "mephisto/actors/partition_supervisor.hpp"

#include <memory>
#include <type_traits>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include "mephisto/app.hpp"
#include "mephisto/error.hpp"

using namespace mephisto;

namespace {

struct partition_supervisor_stop : ::testing::Test {
  partition_supervisor_stop() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    app a{"supervisor-test"};
    auto events = a.topic<std::string>("events");
    a.agent("first", events, [](const std::string&, context&) {});
    a.agent("second", events, [](const std::string&, context&) {});
    auto e = std::make_shared<worker_env>();
    e->topo = a.resolve({});
    e->report.stats = std::make_shared<worker_stats>();
    env = e;
    // A handle that never connects (nothing is subscribed): its queue feeds the source.
    char err[256];
    auto conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "supervisor-test", err, sizeof(err));
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err)); // it cannot connect: quiet
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  }

  ~partition_supervisor_stop() override {
    sched->run();
    sys.reset();
    rd_kafka_destroy(rk);
  }

  /// A started pipeline of topic 0, partition 3 (no tables: it starts at once).
  caf::actor start_pipeline() {
    pipeline_spec spec;
    spec.topic = 0;
    spec.partition = 3;
    spec.queue.queue = rd_kafka_queue_new(rk);
    auto pipeline = sys->spawn(partition_supervisor, env, std::move(spec));
    sched->run();
    return caf::actor_cast<caf::actor>(pipeline); // the test talks to it dynamically typed
  }

  /// The pipeline's children, as it spawned them: the agents, then the source.
  std::vector<caf::actor> children_of(const caf::actor& pipeline) {
    auto ptr = caf::actor_cast<caf::abstract_actor*>(pipeline);
    using supervisor_type
      = std::remove_pointer_t<partition_supervisor_actor::stateful_pointer<partition_supervisor_state>>;
    auto& st = dynamic_cast<supervisor_type&>(*ptr).state;
    std::vector<caf::actor> out;
    for (auto& agent : st.agents)
      out.push_back(caf::actor_cast<caf::actor>(agent));
    out.push_back(caf::actor_cast<caf::actor>(st.source));
    return out;
  }

  /// Sends `rewind` to `pipeline` from a fresh actor; the answer lands in `answer`.
  void request_rewind(const caf::actor& pipeline) {
    auto out = answer;
    auto requester = sys->spawn([=](caf::event_based_actor* self) {
      self->request(pipeline, caf::infinite, rewind_atom::value)
        .then([=](caf::ok_atom) { *out = "ok"; },
              [=](caf::error& err) { *out = render(err); });
    });
    sched->prioritize(requester);
    sched->run_once(); // the request is in the pipeline's mailbox now
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  env_ptr env;
  rd_kafka_t* rk = nullptr;
  std::shared_ptr<std::string> answer = std::make_shared<std::string>("none");
};

bool terminated(const caf::actor& a) {
  return caf::actor_cast<caf::abstract_actor*>(a)->getf(caf::abstract_actor::is_terminated_flag);
}

/// Ends `child` with `reason`, as a failure of its own would.
void kill(const caf::actor& child, caf::error reason) {
  caf::anon_send(child, caf::exit_msg{caf::actor_addr{}, std::move(reason)});
}

} // namespace

TEST_F(partition_supervisor_stop, a_rewind_is_answered_once_the_children_are_gone) {
  auto pipeline = start_pipeline();
  auto children = children_of(pipeline);
  ASSERT_EQ(children.size(), 3u);
  request_rewind(pipeline);
  sched->run();
  EXPECT_EQ(*answer, "ok");
  for (auto& child : children)
    EXPECT_TRUE(terminated(child));
  EXPECT_TRUE(terminated(pipeline));
}

// The race seen under exactly-once: the manager closed the table shards, an agent failed on
// that, and its exit message reached the pipeline right behind the manager's rewind. The
// rewind was never answered, the consumer waited drain_timeout_ms (60 s) and the broker
// fenced the producer meanwhile.
TEST_F(partition_supervisor_stop, a_child_failure_arriving_behind_a_rewind_still_answers_it) {
  auto pipeline = start_pipeline();
  auto children = children_of(pipeline);
  request_rewind(pipeline);
  kill(children[0], make_error(errc::recovery_failed, "table gone"));
  sched->prioritize(children[0]);
  sched->run_once(); // the agent dies: its exit message queues behind the rewind
  EXPECT_TRUE(terminated(children[0]));
  sched->run();
  EXPECT_EQ(*answer, "ok");
  for (auto& child : children)
    EXPECT_TRUE(terminated(child));
  EXPECT_TRUE(terminated(pipeline));
}

// The other order: the failure first, then the rewind while the children are stopping.
TEST_F(partition_supervisor_stop, a_rewind_during_a_failure_is_answered_when_the_children_are_gone) {
  auto pipeline = start_pipeline();
  auto children = children_of(pipeline);
  kill(children[1], make_error(errc::partition_failed, "user function"));
  sched->prioritize(children[1]);
  sched->run_once();
  sched->prioritize(pipeline);
  sched->run_once(); // the pipeline hears of the failure and stops the others
  ASSERT_FALSE(terminated(pipeline)) << "the rewind must come while the children stop";
  request_rewind(pipeline);
  sched->run();
  EXPECT_EQ(*answer, "ok");
  EXPECT_TRUE(terminated(pipeline));
}

// Exactly-once: a transaction commit pauses every pipeline, also one whose tables are
// still recovering. It answers "nothing handed out" and must not start when its tables
// come up during the commit (its first batches would land in a transaction whose offsets
// were taken already), only when resumed.
TEST_F(partition_supervisor_stop, a_pipeline_paused_while_recovering_starts_only_once_resumed) {
  // A table shard stand-in that answers `ready` when told `go`.
  auto ready = std::make_shared<std::vector<caf::response_promise>>();
  auto shard = sys->spawn([ready](caf::event_based_actor* self) -> caf::behavior {
    return {[=](ready_atom) {
              ready->push_back(self->make_response_promise());
              return ready->back();
            },
            [=](caf::ok_atom) {
              for (auto& rp : *ready)
                rp.deliver(caf::ok_atom::value);
              ready->clear();
            }};
  });
  pipeline_spec spec;
  spec.topic = 0;
  spec.partition = 3;
  spec.queue.queue = rd_kafka_queue_new(rk);
  spec.shards.emplace_back(0, caf::actor_cast<table_shard_actor>(shard));
  auto pipeline = sys->spawn(partition_supervisor, env, std::move(spec));
  sched->run();
  using supervisor_type
    = std::remove_pointer_t<partition_supervisor_actor::stateful_pointer<partition_supervisor_state>>;
  auto& st = dynamic_cast<supervisor_type&>(*caf::actor_cast<caf::abstract_actor*>(pipeline)).state;
  EXPECT_EQ(st.phase, pipeline_phase::recovering);
  auto paused_at = std::make_shared<int64_t>(0);
  sys->spawn([=](caf::event_based_actor* self) {
    self->request(pipeline, caf::infinite, pause_atom::value)
      .then([=](final_offset& fo) { *paused_at = fo.offset; });
  });
  sched->run();
  EXPECT_EQ(*paused_at, -1) << "nothing was handed out";
  EXPECT_EQ(st.phase, pipeline_phase::held);
  caf::anon_send(shard, caf::ok_atom::value); // the table recovered during the commit
  sched->run();
  EXPECT_EQ(st.phase, pipeline_phase::held);
  EXPECT_TRUE(st.agents.empty()) << "started inside a transaction being committed";
  caf::anon_send(pipeline, committed_atom::value, true); // committed: go on
  sched->run();
  EXPECT_EQ(st.phase, pipeline_phase::running);
  EXPECT_EQ(st.agents.size(), 2u);
  EXPECT_TRUE(st.source);
  caf::anon_send_exit(pipeline, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(shard, caf::exit_reason::user_shutdown);
}
