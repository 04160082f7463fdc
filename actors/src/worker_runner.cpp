#include "mephisto/actors/worker_runner.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include <caf/send.hpp>

#include "mephisto/actors/messages.hpp"
#include "mephisto/agent_asker.hpp"
#include "mephisto/lifecycle.hpp"

namespace mephisto {

worker_actor::behavior_type worker_runner(worker_actor::pointer self,
                                          std::vector<caf::actor> subscribers) {
  struct watched {
    group_consumer_actor consumer;
    partition_manager_actor manager;
    cluster_actor cluster;        ///< routes replies to askers elsewhere (may be null)
    std::string token;            ///< this worker in replies' `to`
    caf::error failure;
    int running = 0;
    std::vector<caf::actor> subscribers;
    std::map<caf::actor_id, caf::actor> askers;
  };
  auto st = std::make_shared<watched>();
  for (auto& s : subscribers)
    self->monitor(s);
  st->subscribers = std::move(subscribers);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (st->manager && dm.source == st->manager.address()) {
      if (dm.reason && dm.reason != caf::exit_reason::normal && !st->failure)
        st->failure = dm.reason;
      self->send(st->consumer, halt_atom::value);
    } else if (st->consumer && dm.source == st->consumer.address()) {
      self->send(st->manager, halt_atom::value);
    } else if (st->askers.erase(dm.source.id()) > 0) {
      return;
    } else {
      auto& subs = st->subscribers;
      subs.erase(std::remove_if(subs.begin(), subs.end(),
                                [&](auto& s) { return s.address() == dm.source; }),
                 subs.end());
      return;
    }
    if (--st->running == 0) {
      lifecycle_event ev;
      ev.what = lifecycle_event::kind::stopped;
      ev.reason = st->failure;
      for (auto& s : st->subscribers)
        caf::anon_send(s, ev); // a user actor: no answer expected
      if (st->failure)
        self->quit(st->failure);
      else
        self->quit();
    }
  });
  return {
    [=](watch_atom, group_consumer_actor& consumer, partition_manager_actor& manager,
        cluster_actor& cluster, std::string& token) {
      st->consumer = std::move(consumer);
      st->manager = std::move(manager);
      st->cluster = std::move(cluster);
      st->token = std::move(token);
      st->running = 2;
      self->monitor(st->consumer);
      self->monitor(st->manager);
    },
    [=](halt_atom) { self->send(st->consumer, halt_atom::value); },
    [=](lifecycle_event& ev) {
      for (auto& s : st->subscribers)
        caf::anon_send(s, ev); // a user actor: no answer expected
    },
    [=](asker_atom, caf::actor& asker) {
      self->monitor(asker);
      st->askers.emplace(asker.id(), std::move(asker));
    },
    [=](reply_atom, std::string& to, std::string& id, std::string& value) {
      // `id` is "<asker actor id>:<request>"; a reply for another instance goes through
      // the cluster; one whose asker is gone is dropped (the asker said so by timing out).
      if (to != st->token) {
        if (st->cluster)
          self->send(st->cluster, reply_atom::value, std::move(to), std::move(id),
                     std::move(value));
        return;
      }
      auto colon = id.find(':');
      if (colon == std::string::npos)
        return;
      auto asker = st->askers.find(std::strtoull(id.c_str(), nullptr, 10));
      if (asker != st->askers.end())
        caf::anon_send(asker->second,
                       detail::ask_reply{std::strtoull(id.c_str() + colon + 1, nullptr, 10),
                                         std::move(value)});
    },
    [=](subscribe_atom, caf::actor& subscriber) {
      self->monitor(subscriber);
      st->subscribers.push_back(std::move(subscriber));
    },
  };
}


} // namespace mephisto
