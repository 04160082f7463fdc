// The table shard's lending protocol, run deterministically on CAF's test coordinator:
// one agent at a time holds the store, waiting agents queue in order, and snapshots wait
// until the store is back.

#include "mephisto/actors/table_shard.hpp"

#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <gtest/gtest.h>

#include "mephisto/app.hpp"

using namespace mephisto;

namespace {

using release_atom = caf::atom_constant<caf::atom("release")>;

struct table_shard_lending : ::testing::Test {
  table_shard_lending() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    app a{"shard-test"};
    auto t = a.table<std::string, int64_t>("t");
    (void) t;
    auto e = std::make_shared<worker_env>();
    e->topo = a.resolve({});
    e->report.stats = std::make_shared<worker_stats>();
    env = e;
  }

  /// An agent stand-in: leases the store, writes `key`, logs, and gives the store back
  /// when told `release`.
  caf::actor client(const std::string& name, caf::actor shard, const std::string& key) {
    auto log = events;
    return sys->spawn([=](caf::event_based_actor* self) -> caf::behavior {
      auto held = std::make_shared<store_ptr>();
      self->request(shard, caf::infinite, lease_atom::value).then([=](store_ptr& s) {
        static_cast<memory_store<std::string, int64_t>&>(*s).at(key) += 1;
        log->push_back(name + " got the store");
        *held = std::move(s);
      });
      return {[=](release_atom) {
        log->push_back(name + " gives it back");
        self->send(shard, give_back_atom::value, std::move(*held));
        self->quit();
      }};
    });
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  env_ptr env;
  std::shared_ptr<std::vector<std::string>> events
    = std::make_shared<std::vector<std::string>>();
};

} // namespace

TEST_F(table_shard_lending, lends_the_store_to_one_agent_at_a_time_in_request_order) {
  auto store = std::make_shared<memory_store<std::string, int64_t>>();
  auto shard = caf::actor_cast<caf::actor>(
    sys->spawn(table_shard, env, uint32_t{0}, int32_t{0}, store_ptr{store}, standby_actor{}));
  auto a = client("A", shard, "x");
  sched->run();
  auto b = client("B", shard, "x");
  sched->run();
  EXPECT_EQ(*events, std::vector<std::string>{"A got the store"}) << "B must wait for A";
  auto rows = std::make_shared<table_rows>();
  auto log = events;
  sys->spawn([=](caf::event_based_actor* self) {
    self->request(shard, caf::infinite, snapshot_atom::value).then([=](table_rows& r) {
      log->push_back("snapshot");
      *rows = std::move(r);
    });
  });
  sched->run();
  EXPECT_EQ(events->size(), 1u) << "a snapshot must not read a lent store";
  caf::anon_send(a, release_atom::value);
  sched->run();
  EXPECT_EQ(*events, (std::vector<std::string>{"A got the store", "A gives it back",
                                               "snapshot", "B got the store"}));
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0], (std::pair<std::string, std::string>{"x", "1"}));
  caf::anon_send(b, release_atom::value);
  sched->run();
  EXPECT_EQ(*store->find("x"), 2);
  caf::anon_send(shard, close_atom::value, false);
  sched->run();
}

TEST_F(table_shard_lending, ready_answers_at_once_for_a_restored_store) {
  auto shard = sys->spawn(table_shard, env, uint32_t{0}, int32_t{0},
                          store_ptr{std::make_shared<memory_store<std::string, int64_t>>()},
                          standby_actor{});
  auto ready = std::make_shared<bool>(false);
  sys->spawn([=](caf::event_based_actor* self) {
    self->request(shard, caf::infinite, ready_atom::value).then([=](caf::ok_atom) {
      *ready = true;
    });
  });
  sched->run();
  EXPECT_TRUE(*ready);
  caf::anon_send(shard, close_atom::value, false);
  sched->run();
}
