#include "mephisto/cluster_client.hpp"

#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "mephisto/actors/messages.hpp"

namespace mephisto {

expected<std::optional<std::string>>
remote_table_get(const std::string& peer, const std::string& secret, const std::string& table,
                 const std::string& key, std::chrono::milliseconds timeout) {
  auto colon = peer.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    try {
      port = std::stoi(peer.substr(colon + 1));
    } catch (...) {
    }
  }
  if (port <= 0 || port > 65535)
    return make_error(errc::bad_config, "peer '" + peer + "': use host:port");
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  cfg.add_message_type<std::vector<int32_t>>("std::vector<int32_t>");
  cfg.set("scheduler.max-threads", 1);
  caf::actor_system sys{cfg};
  auto handle = sys.middleman().remote_actor(peer.substr(0, colon),
                                             static_cast<uint16_t>(port));
  if (!handle)
    return make_error(errc::broker_unreachable,
                      "cannot reach the cluster at " + peer + ": " + sys.render(handle.error()));
  caf::scoped_actor self{sys};
  expected<std::optional<std::string>> result{std::nullopt};
  self->request(*handle, timeout, lookup_atom::value, secret, table, key, false)
    .receive(
      [&](bool found, std::string& value) {
        result = found ? std::optional<std::string>{std::move(value)} : std::nullopt;
      },
      [&](caf::error& err) {
        result = err.category() == caf::atom("system")
                   ? make_error(errc::timeout, peer + ": " + sys.render(err))
                   : std::move(err);
      });
  return result;
}

} // namespace mephisto
