#include "mephisto/cluster_client.hpp"

#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "mephisto/actors/cluster.hpp"
#include "mephisto/actors/messages.hpp"
#include "mephisto/host_port.hpp"

namespace mephisto {

expected<std::optional<std::string>>
remote_table_get(const std::string& peer, const worker_options& opts, const std::string& table,
                 const std::string& key, std::chrono::milliseconds timeout) {
  auto address = parse_host_port(peer, "peer");
  if (!address)
    return address.error();
  caf::actor_system_config cfg;
  if (auto err = configure_cluster(cfg, opts))
    return err;
  cfg.set("scheduler.max-threads", 1);
  caf::actor_system sys{cfg};
  auto handle = connect_cluster(sys, address->host, address->port, opts);
  if (!handle)
    return handle.error();
  caf::scoped_actor self{sys};
  expected<std::optional<std::string>> result{std::nullopt};
  self->request(*handle, timeout, lookup_atom::value, opts.cluster_secret, table, key, false)
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
