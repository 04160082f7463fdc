#pragma once

// The worker options on the command line: every field of `worker_options` as a flag, a
// config-file key and a `MEPHISTO_<KEY>` environment variable (app_main.cpp uses them).

#include <set>
#include <string>

#include <CLI/CLI.hpp>

#include "mephisto/options.hpp"

namespace mephisto {

/// The worker options `add_worker_options` registered, by key and environment name.
struct known_options {
  std::set<std::string> keys;
  std::set<std::string> env_names;
};

/// Registers every worker option on `cli`: flag `--key`, config-file key `key`,
/// environment `MEPHISTO_KEY`. (The client properties are not options: see
/// client_properties_cli.hpp.)
known_options add_worker_options(CLI::App& cli, worker_options& o);

/// Rejects MEPHISTO_* environment variables that are no option (a typo would otherwise
/// be ignored silently), with a message on stderr.
bool check_environment(const std::set<std::string>& known);

} // namespace mephisto
