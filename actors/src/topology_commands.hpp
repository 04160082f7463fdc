#pragma once

// `<app> topics | tables | agents`: what an app declares, with its Kafka names and
// partition counts (and, given a reachable `--broker kafka://...`, the counts found there).
// Used on the main thread only.

#include <iosfwd>

#include "mephisto/error.hpp"
#include "mephisto/options.hpp"
#include "mephisto/topology.hpp"

namespace mephisto {

enum class topology_listing { topics, tables, agents };

/// Prints one line per topic, table or agent of `topo` (renamed for `opts`' app id) to
/// `out`. An unreachable broker is an error; the embedded one is not asked.
caf::error print_topology(const topology& topo, const worker_options& opts,
                          topology_listing what, std::ostream& out);

} // namespace mephisto
