#include "topology_commands.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <ostream>
#include <string>

#include "mephisto/kafka/admin.hpp"
#include "mephisto/kafka/config.hpp"

namespace mephisto {

namespace {

/// The partition counts on the broker of `opts.broker` (nothing for `embedded`); an error
/// when it cannot be reached within `startup_timeout_ms`.
expected<std::optional<std::map<std::string, int32_t>>>
broker_partitions(const worker_options& opts) {
  if (opts.broker == "embedded")
    return std::optional<std::map<std::string, int32_t>>{};
  auto bootstrap = kafka::parse_broker_url(opts.broker);
  if (!bootstrap)
    return bootstrap.error();
  if (auto err = kafka::check_client_properties(opts.client_properties))
    return err;
  auto rk = kafka::make_admin_client(*bootstrap, "mephisto-cli", opts.client_properties);
  if (!rk)
    return rk.error();
  auto found = kafka::list_topics(rk->get(), std::chrono::milliseconds(opts.startup_timeout_ms));
  if (!found)
    return found.error();
  return std::optional<std::map<std::string, int32_t>>{std::move(*found)};
}

std::string partitions_text(int32_t declared, const std::string& name,
                            const std::optional<std::map<std::string, int32_t>>& found) {
  std::string out = declared > 0 ? std::to_string(declared) : std::string{"as found"};
  if (found) {
    auto i = found->find(name);
    out += i == found->end() ? " (missing on the broker)"
                             : " (broker: " + std::to_string(i->second) + ")";
  }
  return out;
}

} // namespace

caf::error print_topology(const topology& topo, const worker_options& opts,
                          topology_listing what, std::ostream& out) {
  auto found = broker_partitions(opts);
  if (!found)
    return found.error();
  auto specs = topo.topic_specs(opts.topic_partitions);
  switch (what) {
    case topology_listing::topics:
      for (size_t i = 0; i < specs.size(); ++i) {
        auto& s = specs[i];
        std::string kind = i < topo.topics.size()
                             ? (topo.topics[i].internal ? "internal" : "external")
                             : (s.compacted ? "changelog" : "dead letters");
        out << s.name << "  partitions " << partitions_text(s.partitions, s.name, *found)
            << "  " << kind << (s.create ? ", created by the app" : "")
            << (s.compacted ? ", compacted" : "");
        if (i < topo.topics.size())
          for (auto a : topo.agents_of(i))
            out << ", read by " << topo.agents[a].name;
        out << '\n';
      }
      break;
    case topology_listing::tables:
      for (size_t t = 0; t < topo.tables.size(); ++t) {
        auto& spec = specs[topo.changelog_index(t)];
        out << topo.tables[t].name << "  changelog " << spec.name << "  partitions "
            << partitions_text(spec.partitions, spec.name, *found) << "  used by";
        for (auto& a : topo.agents)
          for (auto used : a.tables)
            if (used == t)
              out << ' ' << a.name;
        out << '\n';
      }
      break;
    case topology_listing::agents:
      for (auto& a : topo.agents) {
        auto& spec = specs[a.topic];
        out << a.name << "  on " << spec.name << "  partitions "
            << partitions_text(spec.partitions, spec.name, *found) << "  tables";
        if (a.tables.empty())
          out << " (none)";
        for (auto t : a.tables)
          out << ' ' << topo.tables[t].name;
        out << '\n';
      }
      break;
  }
  return caf::none;
}

} // namespace mephisto
