#include "mephisto/actors/cluster.hpp"

#include "mephisto/host_port.hpp"
#include "mephisto/actors/standby.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>
#include <caf/system_messages.hpp>

#include <librdkafka/rdkafka.h>

#include "mephisto/error.hpp"
#include "mephisto/log.hpp"

namespace mephisto {

namespace {

using self_ptr = cluster_actor::stateful_pointer<cluster_state>;
using clock_type = std::chrono::steady_clock;

bool holds(const std::vector<int32_t>& owned, int32_t table, int32_t partition) {
  for (size_t i = 0; i + 1 < owned.size(); i += 2)
    if (owned[i] == table && owned[i + 1] == partition)
      return true;
  return false;
}

caf::error refused(const std::string& what) {
  return make_error(errc::refused, what + ": wrong cluster secret");
}

bool is_cut(const cluster_state& st, const std::string& address) {
  return !st.cut.empty() && st.cut.count(address) > 0;
}

/// The address of the peer that sent the current message; empty when it is none (a
/// command line's lookup) or not known yet.
std::string sender_address(self_ptr self) {
  auto sender = self->current_sender();
  if (!sender)
    return {};
  for (auto& [address, peer] : self->state.peers)
    if (peer.handle && peer.handle.node() == sender->node())
      return address;
  return {};
}

/// Rereads the links a crash test cuts (`cut-links@` fault), logging what changed.
void refresh_cut_links(self_ptr self) {
  auto& st = self->state;
  if (!st.env->services.faults || st.env->services.faults->links_file.empty())
    return;
  auto now = st.env->services.faults->cut_links();
  for (auto& address : now)
    if (!st.cut.count(address))
      log().warn("cluster: link to {} cut (injected fault)", address);
  for (auto& address : st.cut)
    if (!now.count(address))
      log().warn("cluster: link to {} restored (injected fault)", address);
  st.cut = std::move(now);
}

void mark_up(self_ptr self, const std::string& address, cluster_actor handle,
             std::vector<int32_t> owned) {
  auto& peer = self->state.peers[address];
  if (!peer.up)
    log().info("cluster: peer {} up", address);
  if (handle && peer.handle != handle) {
    peer.handle = std::move(handle);
    self->monitor(peer.handle);
  }
  peer.owned = std::move(owned);
  peer.last_seen = clock_type::now();
  peer.up = peer.handle != nullptr;
}

void mark_down(cluster_peer& peer, const std::string& address, const std::string& why) {
  if (peer.up)
    log().warn("cluster: peer {} down ({})", address, why);
  peer.up = false;
  peer.handle = nullptr;
  peer.owned.clear();
}

/// Connects to `address` (host:port) through the middleman without blocking, then says
/// hello; the answer names the peers the other side knows, which are connected to next.
void connect(self_ptr self, const std::string& address) {
  auto& peer = self->state.peers[address];
  if (peer.connecting || peer.up || address == self->state.address
      || is_cut(self->state, address))
    return;
  auto parsed = parse_host_port(address, "cluster peer");
  if (!parsed) { // seeds are checked at start; a peer's own address is its listen address
    log().warn("cluster: {}", render(parsed.error()));
    return;
  }
  peer.connecting = true;
  peer.last_attempt = clock_type::now();
  auto host = parsed->host;
  auto port = parsed->port;
  auto timeout = std::chrono::milliseconds(self->state.env->opts.cluster_timeout_ms);
  self->request(self->state.middleman, timeout, caf::connect_atom::value, host, port)
    .then(
      [self, address, timeout](caf::node_id&, caf::strong_actor_ptr& ptr,
                               std::set<std::string>&) {
        auto handle = caf::actor_cast<cluster_actor>(ptr);
        if (!handle) {
          self->state.peers[address].connecting = false;
          return;
        }
        auto& st = self->state;
        self->request(handle, timeout, hello_atom::value, st.env->opts.cluster_secret,
                      st.address, st.owned)
          .then(
            [self, address, handle](std::vector<int32_t>& owned,
                                    std::vector<std::string>& known) {
              self->state.peers[address].connecting = false;
              mark_up(self, address, handle, std::move(owned));
              for (auto& other : known)
                connect(self, other);
            },
            [self, address](caf::error& err) {
              self->state.peers[address].connecting = false;
              log().warn("cluster: {} did not accept us: {}", address, render(err));
            });
      },
      [self, address](caf::error&) { self->state.peers[address].connecting = false; });
}

/// Tells the standby actor which table partitions to keep warm, when that changed.
void place_standbys(self_ptr self) {
  auto& st = self->state;
  if (!st.standby)
    return;
  std::vector<std::string> members{st.address};
  for (auto& [address, peer] : st.peers)
    if (peer.up)
      members.push_back(address);
  auto owner = [&](int32_t t, int32_t p) -> std::string {
    if (holds(st.owned, t, p))
      return st.address;
    for (auto& [address, peer] : st.peers)
      if (peer.up && holds(peer.owned, t, p))
        return address;
    return {};
  };
  auto wanted = standby_placement(st.address, members, st.env->layout.table_partitions,
                                  st.env->opts.table_standby_replicas, st.standby_set, owner);
  if (wanted != st.standby_set) {
    st.standby_set = std::move(wanted);
    self->send(st.standby, place_atom::value, st.standby_set);
  }
}

/// Every heartbeat: refresh what this instance holds, ping the peers, mark the silent ones
/// down, try the down ones again, place the standby copies.
void tick(self_ptr self) {
  auto& st = self->state;
  auto& opts = st.env->opts;
  self->request(st.manager, std::chrono::seconds(5), owned_atom::value)
    .then(
      [self](std::vector<int32_t>& owned) {
        self->state.owned = std::move(owned);
        place_standbys(self);
      },
      [](caf::error&) {});
  refresh_cut_links(self);
  auto now = clock_type::now();
  auto timeout = std::chrono::milliseconds(opts.cluster_timeout_ms);
  for (auto& [address, peer] : st.peers) {
    if (is_cut(st, address)) { // silent both ways: its heartbeats stop arriving too
      if (peer.up && now - peer.last_seen > timeout)
        mark_down(peer, address, "no heartbeat for " + std::to_string(opts.cluster_timeout_ms)
                                   + " ms (link cut)");
      continue;
    }
    if (peer.up && now - peer.last_seen > timeout)
      mark_down(peer, address,
                "no heartbeat for " + std::to_string(opts.cluster_timeout_ms) + " ms");
    if (peer.up)
      self->send(peer.handle, ping_atom::value, opts.cluster_secret, st.address, st.owned);
    else if (!peer.connecting && now - peer.last_attempt > timeout)
      connect(self, address);
  }
  self->delayed_send(self, std::chrono::milliseconds(opts.cluster_heartbeat_ms),
                     tick_atom::value);
}

} // namespace

lookup_answer::~lookup_answer() {
  if (rp_.pending())
    rp_.deliver(make_error(errc::not_owned, "the instance asked stopped before it answered"));
}

namespace {

void route_lookup(self_ptr self, routed_lookup job);

/// Tries `job` again one heartbeat later (the owners are known anew by then), or gives
/// up with `err` when it was tried again already.
void retry_lookup(self_ptr self, routed_lookup job, caf::error err) {
  if (job.retries_left-- <= 0) {
    job.answer.deliver(std::move(err));
    return;
  }
  auto& st = self->state;
  auto id = st.next_retry++;
  st.retrying.emplace(id, std::move(job));
  self->delayed_send(self, std::chrono::milliseconds(2 * st.env->opts.cluster_heartbeat_ms),
                     retry_atom::value, id);
}

/// Worth asking again: the partition moved away from the peer asked, or the link to it
/// dropped. Not after a timeout (it waited long enough) nor for an answer that holds
/// (not_ready: recovering; bad input).
bool worth_a_retry(const caf::error& err) {
  if (is(err, errc::not_owned))
    return true;
  return err.category() == caf::atom("system") && err != caf::sec::request_timeout;
}

/// Answers from the local manager if this instance holds the key's partition, else from
/// the live peer that says it does.
void route_lookup(self_ptr self, routed_lookup job) {
  auto& st = self->state;
  auto timeout = std::chrono::milliseconds(st.env->opts.cluster_timeout_ms);
  auto shared = std::make_shared<routed_lookup>(std::move(job));
  auto found_here_or_there = [shared](bool found, std::string& value) {
    shared->answer.deliver(found, value);
  };
  self->request(st.manager, timeout, local_lookup_atom::value, shared->table_index, shared->partition,
                shared->key)
    .then(
      found_here_or_there,
      [self, shared, timeout, found_here_or_there](caf::error& err) {
        if (!is(err, errc::not_owned) || shared->forwarded) {
          shared->answer.deliver(err);
          return;
        }
        for (auto& [address, peer] : self->state.peers) {
          if (!peer.up || is_cut(self->state, address)
              || !holds(peer.owned, static_cast<int32_t>(shared->table_index),
                        shared->partition))
            continue;
          self->request(peer.handle, timeout, lookup_atom::value, shared->secret,
                        shared->table, shared->key, true)
            .then(
              found_here_or_there,
              [self, shared](caf::error& e) {
                if (worth_a_retry(e))
                  retry_lookup(self, std::move(*shared), e);
                else
                  shared->answer.deliver(e);
              });
          return;
        }
        retry_lookup(self, std::move(*shared),
                     make_error(errc::not_owned, "partition "
                                                   + std::to_string(shared->partition)
                                                   + " of table " + shared->table
                                                   + " is held by no live instance"));
      });
}

} // namespace

int32_t key_partition(const std::string& key, int32_t partitions) {
  return rd_kafka_msg_partitioner_murmur2_random(nullptr, key.data(), key.size(), partitions,
                                                 nullptr, nullptr);
}

cluster_actor::behavior_type cluster(cluster_actor::stateful_pointer<cluster_state> self,
                                     env_ptr env, partition_manager_actor manager,
                                     caf::io::middleman_actor middleman, standby_actor standby) {
  auto& st = self->state;
  st.env = std::move(env);
  st.manager = std::move(manager);
  st.standby = std::move(standby);
  st.middleman = std::move(middleman);
  self->set_down_handler([self](caf::down_msg& dm) {
    for (auto& [address, peer] : self->state.peers)
      if (peer.handle && peer.handle.address() == dm.source)
        mark_down(peer, address, "connection lost");
  });
  return {
    [self](listen_atom, std::string& address) {
      // Published: now it knows its address and joins its seeds.
      auto& st = self->state;
      if (!st.address.empty())
        return;
      st.address = std::move(address);
      // The seeds were checked when the worker started.
      auto seeds = parse_host_port_list(st.env->opts.cluster_seeds, "cluster_seeds");
      for (auto& seed : seeds ? *seeds : std::vector<host_port>{})
        if (seed.to_string() != st.address)
          st.peers[seed.to_string()];
      tick(self);
    },
    [self](tick_atom) { tick(self); },
    [self](hello_atom, const std::string& secret, const std::string& address,
           std::vector<int32_t>& owned) -> caf::result<std::vector<int32_t>,
                                                      std::vector<std::string>> {
      auto& st = self->state;
      if (secret != st.env->opts.cluster_secret) {
        log().warn("cluster: refused {}: wrong secret", address);
        return refused("hello from " + address);
      }
      if (is_cut(st, address)) // dropped: the asker times out
        return self->make_response_promise<std::vector<int32_t>, std::vector<std::string>>();
      mark_up(self, address, caf::actor_cast<cluster_actor>(self->current_sender()),
              std::move(owned));
      std::vector<std::string> known;
      for (auto& [other, peer] : st.peers)
        if (peer.up && other != address)
          known.push_back(other);
      return caf::make_result(st.owned, known);
    },
    [self](ping_atom, const std::string& secret, const std::string& address,
           std::vector<int32_t>& owned) {
      if (secret != self->state.env->opts.cluster_secret) {
        log().warn("cluster: refused a heartbeat from {}: wrong secret", address);
        return;
      }
      if (is_cut(self->state, address))
        return;
      mark_up(self, address, caf::actor_cast<cluster_actor>(self->current_sender()),
              std::move(owned));
    },
    [self](reply_atom, std::string& to, std::string& id, std::string& value) {
      // From the local worker actor: a reply for an asker on instance `to`.
      auto i = self->state.peers.find(to);
      if (i != self->state.peers.end() && i->second.up && i->second.handle
          && !is_cut(self->state, to))
        self->send(i->second.handle, answer_atom::value, self->state.env->opts.cluster_secret,
                   std::move(id), std::move(value));
      else
        log().debug("cluster: reply for {} dropped: no link to it", to);
    },
    [self](answer_atom, const std::string& secret, std::string& id, std::string& value) {
      // From a peer: a reply for one of this instance's askers.
      auto& st = self->state;
      if (secret != st.env->opts.cluster_secret) {
        log().warn("cluster: a reply with the wrong secret refused");
        return;
      }
      if (!st.cut.empty() && is_cut(st, sender_address(self))) // no peer scan otherwise
        return;
      self->send(st.env->report.runner, reply_atom::value, st.address, std::move(id),
                 std::move(value));
    },
    [self](lookup_atom, const std::string& secret, const std::string& table,
           std::string& key, bool forwarded) -> caf::result<bool, std::string> {
      auto& st = self->state;
      if (secret != st.env->opts.cluster_secret) {
        log().warn("cluster: refused a lookup: wrong secret");
        return refused("lookup");
      }
      // Dropped: the asker times out. (The peer scan only when some link is cut.)
      if (forwarded && !st.cut.empty() && is_cut(st, sender_address(self)))
        return self->make_response_promise<bool, std::string>();
      auto& topo = *st.env->topo;
      auto it = std::find_if(topo.tables.begin(), topo.tables.end(),
                             [&](auto& t) { return t.name == table; });
      if (it == topo.tables.end())
        return make_error(errc::bad_config, "no table named " + table);
      auto t = static_cast<uint32_t>(it - topo.tables.begin());
      routed_lookup job;
      auto rp = self->make_response_promise<bool, std::string>();
      job.answer = lookup_answer{rp};
      job.secret = secret;
      job.table = table;
      job.key = std::move(key);
      job.table_index = t;
      job.partition = key_partition(job.key, st.env->layout.table_partitions[t]);
      job.forwarded = forwarded;
      route_lookup(self, std::move(job));
      return rp;
    },
    [self](retry_atom, uint64_t id) {
      auto& st = self->state;
      auto i = st.retrying.find(id);
      if (i == st.retrying.end())
        return;
      auto job = std::move(i->second);
      st.retrying.erase(i);
      route_lookup(self, std::move(job));
    },
  };
}

} // namespace mephisto
