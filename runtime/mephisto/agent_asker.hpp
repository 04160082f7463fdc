#pragma once

// Asking an agent, as Faust's `agent.ask`: a user's actor sends an event to the agent's
// topic and gets back, as the response, what the agent answered with `ctx.reply(value)`.
// Get an asker from `worker::asker<R>(topic)`.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>

#include "mephisto/codec.hpp"
#include "mephisto/error.hpp"
#include "mephisto/topic_writer.hpp"

namespace mephisto {

/// Asks the agent of a topic: `value` with `key` goes to the topic like any record
/// (partitioned by key, ordered, durable).
template <class K, class V>
struct ask_request {
  K key;
  V value;
};

/// An asker of the agents of one topic. Message: `ask_request<K, V>` from any local actor;
/// the answer is the agent's `ctx.reply(R)`, which travels back over CAF to this asker on
/// whichever instance processed the event, once the batch is confirmed (its records
/// acknowledged; under exactly-once its transaction committed). Errors: the record could
/// not be written, no reply within the asker's timeout (`timeout`: the event stays in
/// Kafka and is processed; a late reply is dropped), the worker stopped. Replies between
/// instances need the cluster (`cluster_listen`).
template <class K, class V, class R>
using agent_asker
  = caf::typed_actor<typename caf::replies_to<ask_request<K, V>>::template with<R>>;

namespace detail {

/// A reply routed to an asker: its request number and the encoded answer.
struct ask_reply {
  uint64_t request = 0;
  std::string value;
};

/// Expires the requests of an asker that waited too long.
using asker_tick_atom = caf::atom_constant<caf::atom("asktick")>;
/// An asker registers with its worker actor, which routes replies to it.
using asker_register_atom = caf::atom_constant<caf::atom("asker")>;

struct agent_asker_state {
  static inline const char* name = "mephisto.agent_asker";

  struct waiting {
    caf::response_promise answer;
    std::chrono::steady_clock::time_point deadline;
  };

  std::shared_ptr<writer_core> core;
  std::string reply_to;                          ///< this instance, for the agent
  std::chrono::milliseconds timeout{30000};
  uint64_t next = 0;
  std::unordered_map<uint64_t, waiting> asked;   ///< by request number
  std::string why;
};

using asker_self = caf::stateful_actor<agent_asker_state>*;

/// Produces one asked record (defined in the library).
void asker_send(asker_self self, const std::string& key, const std::string& value);

/// Fails the requests past their deadline (defined in the library).
void asker_expire(asker_self self);

/// A request whose record Kafka did not take fails now (defined in the library).
void asker_acked(asker_self self, const write_ack& ack);

template <class K, class V, class R>
caf::behavior agent_asker_actor(asker_self self, std::shared_ptr<writer_core> core,
                                std::string reply_to, std::chrono::milliseconds timeout) {
  auto& st = self->state;
  st.core = std::move(core);
  st.reply_to = std::move(reply_to);
  st.timeout = timeout;
  self->send(st.core->worker_actor(), asker_register_atom::value, caf::actor{self});
  self->monitor(st.core->worker_actor());
  self->set_down_handler([self](caf::down_msg&) {
    for (auto& [n, w] : self->state.asked)
      w.answer.deliver(make_error(errc::stopped, "the worker stopped"));
    self->quit();
  });
  self->delayed_send(self, std::chrono::seconds(1), asker_tick_atom::value);
  return {
    [self](ask_request<K, V>& req) {
      std::string key;
      std::string value;
      codec<K>::encode(req.key, key);
      codec<V>::encode(req.value, value);
      asker_send(self, key, value);
    },
    [self](ask_reply& reply) {
      auto i = self->state.asked.find(reply.request);
      if (i == self->state.asked.end())
        return; // answered already, or timed out
      R value{};
      std::string why;
      if (codec<R>::decode(reply.value, value, why))
        i->second.answer.deliver(std::move(value));
      else
        i->second.answer.deliver(make_error(errc::decode_failed, "the agent's reply: " + why));
      self->state.asked.erase(i);
    },
    [self](write_ack& ack) { asker_acked(self, ack); },
    [self](asker_tick_atom) {
      asker_expire(self);
      self->delayed_send(self, std::chrono::seconds(1), asker_tick_atom::value);
    },
  };
}

} // namespace detail

} // namespace mephisto

namespace caf {
template <class K, class V>
struct allowed_unsafe_message_type<mephisto::ask_request<K, V>> : std::true_type {};
} // namespace caf
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mephisto::detail::ask_reply)
