#pragma once

// The table reader: how a user's actor reads a declared table (see `table_reader`). Get
// one from `worker::reader(table)`.

#include <chrono>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>

#include "mephisto/codec.hpp"
#include "mephisto/error.hpp"

namespace mephisto {

/// Asks a table reader for the value of `key`.
template <class K>
struct get_request {
  K key;
};

/// A declared table's reader. Message: `get_request<K>` from any local actor; the answer is
/// the decoded value, `std::nullopt` when the key is absent, or an error: `not_ready` while
/// the key's partition recovers (never a stale value), `not_owned` when no live instance
/// holds it, a timeout. Routed through the cluster to the instance that holds the key's
/// partition, as `worker::table_get` is; needs `cluster_listen` on.
template <class K, class V>
using table_reader
  = caf::typed_actor<typename caf::replies_to<get_request<K>>::template with<std::optional<V>>>;

namespace detail {

/// A table lookup: the cluster actor's message (secret, table, encoded key, forwarded)
/// answered with (found, encoded value). Shared with the runtime's cluster actor.
using cluster_lookup_atom = caf::atom_constant<caf::atom("lookup")>;

template <class K, class V>
struct table_reader_state {
  static inline const char* name = "mephisto.table_reader";
};

template <class K, class V>
caf::behavior table_reader_actor(caf::stateful_actor<table_reader_state<K, V>>* self,
                                 caf::actor cluster, caf::actor worker_actor,
                                 std::string secret, std::string table,
                                 std::chrono::milliseconds timeout) {
  self->monitor(worker_actor);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  return {
    [=](get_request<K>& req) {
      auto rp = self->make_response_promise();
      std::string key;
      codec<K>::encode(req.key, key);
      self->request(cluster, timeout, cluster_lookup_atom::value, secret, table, key, false)
        .then(
          [rp, table](bool found, std::string& bytes) mutable {
            if (!found) {
              rp.deliver(std::optional<V>{});
              return;
            }
            std::optional<V> value{V{}};
            std::string why;
            if (!codec<V>::decode(bytes, *value, why)) {
              rp.deliver(make_error(errc::decode_failed, "table " + table + ": " + why));
              return;
            }
            rp.deliver(std::move(value));
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
    },
  };
}

} // namespace detail

} // namespace mephisto

// Local-only messages (never sent to another node).
namespace caf {
template <class K>
struct allowed_unsafe_message_type<mephisto::get_request<K>> : std::true_type {};
template <class V>
struct allowed_unsafe_message_type<std::optional<V>> : std::true_type {};
} // namespace caf
