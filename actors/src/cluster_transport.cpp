// How the instances of an app reach each other: the cluster's actor system configuration
// (io middleman, optional mutual TLS), publishing the cluster actor and connecting to a
// peer's. Declared in mephisto/actors/cluster.hpp.

#include "mephisto/actors/cluster.hpp"

#include <fstream>

#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/openssl/remote_actor.hpp>

#include "mephisto/error.hpp"

namespace mephisto {

caf::error configure_cluster(caf::actor_system_config& cfg, const worker_options& opts) {
  cfg.load<caf::io::middleman>();
  // The one cluster payload type CAF does not know: table partitions held (flat pairs).
  cfg.add_message_type<std::vector<int32_t>>("std::vector<int32_t>");
  if (!opts.cluster_tls())
    return caf::none;
  if (opts.cluster_tls_cert.empty() || opts.cluster_tls_key.empty()
      || opts.cluster_tls_ca.empty())
    return make_error(errc::bad_config, "cluster TLS needs cluster_tls_cert, cluster_tls_key "
                                        "and cluster_tls_ca (PEM files), or none of them");
  for (auto* path : {&opts.cluster_tls_cert, &opts.cluster_tls_key, &opts.cluster_tls_ca})
    if (!std::ifstream{*path})
      return make_error(errc::bad_config, "cluster TLS: cannot read " + *path);
  cfg.load<caf::openssl::manager>();
  cfg.openssl_certificate = opts.cluster_tls_cert;
  cfg.openssl_key = opts.cluster_tls_key;
  cfg.openssl_cafile = opts.cluster_tls_ca;
  return caf::none;
}

caf::io::middleman_actor cluster_middleman(caf::actor_system& sys, const worker_options& opts) {
  return opts.cluster_tls() ? sys.openssl_manager().actor_handle()
                            : sys.middleman().actor_handle();
}

expected<uint16_t> publish_cluster(caf::actor_system& sys, const caf::actor& whom,
                                   const std::string& host, uint16_t port,
                                   const worker_options& opts) {
  auto bound = opts.cluster_tls() ? caf::openssl::publish(whom, port, host.c_str(), true)
                                  : sys.middleman().publish(whom, port, host.c_str(), true);
  if (!bound)
    return make_error(errc::bad_config, "cluster_listen " + host + ":" + std::to_string(port)
                                          + ": cannot listen: " + sys.render(bound.error()));
  return *bound;
}

expected<caf::actor> connect_cluster(caf::actor_system& sys, const std::string& host,
                                     uint16_t port, const worker_options& opts) {
  auto handle = opts.cluster_tls() ? caf::openssl::remote_actor(sys, host, port)
                                   : sys.middleman().remote_actor(host, port);
  if (!handle)
    return make_error(errc::broker_unreachable, "cannot reach the cluster at " + host + ":"
                                                  + std::to_string(port) + ": "
                                                  + sys.render(handle.error()));
  return *handle;
}

} // namespace mephisto
