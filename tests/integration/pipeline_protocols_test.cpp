// The source's, the agent's and the partition manager's protocols, run deterministically on CAF's test coordinator against a real
// partition queue (records fetched from an embedded broker before the source starts):
// credits bound the batches in flight per agent, the slowest agent holds the source back,
// pause answers where the records handed out end, halt answers and ends the source.

#include "mephisto/actors/source.hpp"
#include "mephisto/actors/agent.hpp"
#include "mephisto/actors/partition_manager.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include <gtest/gtest.h>

#include "mephisto/app.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "support/testkit.hpp"

using namespace mephisto;
using namespace std::chrono_literals;

namespace {

/// What a probe agent received: batch sizes, in order.
using received = std::shared_ptr<std::vector<size_t>>;

caf::behavior probe_agent(caf::event_based_actor*, received got) {
  return {[=](batch_atom, kafka::batch_ptr& batch) { got->push_back(batch->size()); }};
}

struct pipeline_protocols : ::testing::Test {
  static constexpr int records = 2500;

  pipeline_protocols() {
    EXPECT_FALSE(broker.start());
    EXPECT_FALSE(broker.create_topic("events", 1));
    std::vector<std::string> values;
    for (int i = 0; i < records; ++i)
      values.push_back("e" + std::to_string(i));
    testkit::produce(broker.bootstrap(), "events", values);
    // A consumer of partition 0 whose queue holds every record before the source starts,
    // so that no librdkafka thread wakes the source during the test.
    char err[256];
    auto conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", broker.bootstrap().c_str(), err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "source-protocol", err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.partition.eof", "false", err, sizeof(err));
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    auto list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, "events", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    queue = rd_kafka_queue_get_partition(rk, "events", 0);
    rd_kafka_queue_forward(queue, nullptr);
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (rd_kafka_queue_length(queue) < static_cast<size_t>(records)
           && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
    cfg.set("scheduler.policy", caf::atom("testing"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
  }

  ~pipeline_protocols() override {
    sched->run();
    sys.reset();
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }

  kafka::embedded_broker broker;
  rd_kafka_t* rk = nullptr;
  rd_kafka_queue_t* queue = nullptr;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
};

} // namespace

TEST_F(pipeline_protocols, credits_bound_the_batches_and_pause_and_halt_answer) {
  // Every record is there (librdkafka may count one more internal event in the queue).
  ASSERT_GE(rd_kafka_queue_length(queue), static_cast<size_t>(records));
  auto fast = std::make_shared<std::vector<size_t>>();
  auto slow = std::make_shared<std::vector<size_t>>();
  auto a0 = sys->spawn(probe_agent, fast);
  auto a1 = sys->spawn(probe_agent, slow);
  // Two agents, batches of 1000, two batches in flight per agent.
  auto src = sys->spawn(source, std::string{"events [0]"}, partition_queue{queue},
                        std::vector<agent_actor>{caf::actor_cast<agent_actor>(a0),
                                                 caf::actor_cast<agent_actor>(a1)},
                        1000, 2);
  sched->run();
  EXPECT_EQ(*fast, (std::vector<size_t>{1000, 1000})); // no credit left: it stops
  EXPECT_EQ(*slow, (std::vector<size_t>{1000, 1000}));
  // Credit from the fast agent only: the slow one still holds two, so nothing moves.
  caf::anon_send(src, credit_atom::value, int32_t{0});
  sched->run();
  EXPECT_EQ(fast->size(), 2u);
  // The slow agent's credit frees a slot for both: the last 500 go out.
  caf::anon_send(src, credit_atom::value, int32_t{1});
  sched->run();
  EXPECT_EQ(*fast, (std::vector<size_t>{1000, 1000, 500}));
  EXPECT_EQ(*slow, (std::vector<size_t>{1000, 1000, 500}));
  // Pause answers the offset after the last record handed out; halt answers ok and ends it.
  caf::scoped_actor self{*sys};
  int64_t next = -1;
  self->send(src, pause_atom::value);
  sched->run();
  self->receive([&](int64_t x) { next = x; }, caf::after(0s) >> [] {});
  EXPECT_EQ(next, records);
  self->monitor(src);
  self->send(src, halt_atom::value);
  sched->run();
  bool ok = false;
  bool down = false;
  for (int i = 0; i < 2; ++i)
    self->receive([&](caf::ok_atom) { ok = true; }, [&](caf::down_msg&) { down = true; },
                  caf::after(0s) >> [] {});
  EXPECT_TRUE(ok);
  EXPECT_TRUE(down);
  caf::anon_send_exit(a0, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(a1, caf::exit_reason::user_shutdown);
}

TEST_F(pipeline_protocols, an_agent_takes_every_batch_on_credit_retries_and_reports_progress) {
  // The agent's function records what it saw; "e7" throws twice before it goes through.
  auto seen = std::make_shared<std::vector<std::string>>();
  auto throws_left = std::make_shared<int>(2);
  app a{"agent-test"};
  auto events = a.topic<std::string>("events");
  a.agent("record", events, [=](const std::string& v, context&) {
    if (v == "e7" && (*throws_left)-- > 0)
      throw std::runtime_error("not yet");
    seen->push_back(v);
  });
  auto e = std::make_shared<worker_env>();
  e->topo = a.resolve({});
  e->opts.retry_attempts = 3;
  e->opts.retry_backoff_ms = 10;
  e->report.stats = std::make_shared<worker_stats>();
  e->layout.partitions = {1};
  // Where the agent reports committable offsets: the group consumer's place.
  auto progress = std::make_shared<std::vector<int64_t>>();
  auto sink = sys->spawn([=](caf::event_based_actor*) -> caf::behavior {
    return {[=](progress_atom, uint32_t, int32_t, int32_t, int64_t offset) {
      progress->push_back(offset);
    }};
  });
  agent_spec spec;
  spec.progress_sink = caf::actor_cast<group_consumer_actor>(sink);
  auto ag = sys->spawn(agent, env_ptr{e}, spec);
  auto src = sys->spawn(source, std::string{"events [0]"}, partition_queue{queue},
                        std::vector<agent_actor>{ag}, 1000, 2);
  sched->run();
  // The first batch stops at "e7": its retry waits for a backoff timer (no sleep).
  EXPECT_LT(seen->size(), 10u);
  for (int i = 0; i < 2 && sched->has_pending_timeout(); ++i) {
    sched->trigger_timeouts();
    sched->run();
  }
  ASSERT_EQ(seen->size(), static_cast<size_t>(records)); // every batch came on credit
  for (int i = 0; i < records; ++i)
    ASSERT_EQ((*seen)[i], "e" + std::to_string(i)); // in offset order, once
  EXPECT_EQ(e->report.stats->events.load(), static_cast<uint64_t>(records)); // a retry is no new event
  EXPECT_EQ(e->report.stats->retries.load(), 2u);
  EXPECT_EQ(e->report.stats->dead_letters.load(), 0u);
  ASSERT_FALSE(progress->empty());
  EXPECT_EQ(progress->back(), records); // the offset after the last record
  EXPECT_TRUE(std::is_sorted(progress->begin(), progress->end()));
  // Drain: the agent answers where it stands and ends.
  caf::scoped_actor self{*sys};
  self->send(ag, drain_atom::value);
  sched->run();
  int64_t drained = -1;
  self->receive([&](int64_t x) { drained = x; }, caf::after(0s) >> [] {});
  EXPECT_EQ(drained, records);
  caf::anon_send(src, halt_atom::value);
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
}

TEST_F(pipeline_protocols, the_partition_manager_runs_an_assigned_partition_and_revokes_it) {
  auto seen = std::make_shared<size_t>(0);
  app a{"manager-test"};
  auto events = a.topic<std::string>("events");
  a.agent("count", events, [=](const std::string&, context&) { ++*seen; });
  auto e = std::make_shared<worker_env>();
  e->topo = a.resolve({});
  e->report.stats = std::make_shared<worker_stats>();
  e->layout.partitions = {1};
  auto manager = sys->spawn(partition_manager, env_ptr{e}, standby_actor{});
  // This test plays the group consumer: it assigns, hears progress, revokes.
  caf::scoped_actor self{*sys};
  self->send(manager, assign_atom::value, assignment{{0, 0, partition_queue{queue}}});
  sched->run();
  bool assigned = false;
  int64_t progress = -1;
  auto drain_mailbox = [&](final_offsets* revoked) {
    for (bool more = true; more;)
      self->receive([&](caf::ok_atom) { assigned = true; },
                    [&](progress_atom, uint32_t, int32_t, int32_t, int64_t offset) {
                      progress = offset;
                    },
                    [&](final_offsets& fo) {
                      if (revoked != nullptr)
                        *revoked = fo;
                    },
                    caf::after(0s) >> [&] { more = false; });
  };
  drain_mailbox(nullptr);
  EXPECT_TRUE(assigned);
  EXPECT_EQ(*seen, static_cast<size_t>(records));
  EXPECT_EQ(progress, records);
  EXPECT_EQ(e->report.stats->assigned.load(), 1);
  // Revoke: the pipeline drains and the answer is the offset to commit.
  final_offsets revoked;
  self->send(manager, revoke_atom::value, topic_partitions{{0, 0}});
  sched->run();
  drain_mailbox(&revoked);
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0].tp, (topic_partition{0, 0}));
  EXPECT_EQ(revoked[0].offset, records);
  EXPECT_EQ(e->report.stats->assigned.load(), 0);
  self->send(manager, halt_atom::value);
  sched->run();
}
