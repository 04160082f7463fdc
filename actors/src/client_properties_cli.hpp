#pragma once

// The user's Kafka client properties (`worker_options::client_properties`) on `app::main`'s
// command line. They are not fixed options: any `kafka.<property>`, `consumer.<property>`
// or `producer.<property>` key is taken, as a flag (`--kafka.sasl.username alice` or
// `--kafka.sasl.username=alice`), an environment variable (`MEPHISTO_KAFKA_SASL_USERNAME`:
// `_` stands for `.`, `__` for `_`) or a config-file key. librdkafka checks them when the
// worker starts (`kafka::check_client_properties`). Used on the main thread only.

#include <map>
#include <set>
#include <string>
#include <vector>

namespace mephisto {

using client_properties = std::map<std::string, std::string>;

/// Whether environment variable `name` carries a client property.
bool is_client_property_env(const std::string& name);

/// Takes the client property flags out of `argv` into `out`; returns the other arguments
/// (argv[0] first) for CLI11. A flag without a value sets `error` and returns nothing.
std::vector<char*> take_client_property_flags(int argc, char** argv, client_properties& out,
                                              std::string& error);

/// Reads the client properties from the environment.
void read_client_property_env(client_properties& out);

/// Reads the client properties of config file `path`. Any other key must be one of
/// `known` (the worker options): an unknown one sets `error` and returns false.
bool read_client_property_file(const std::string& path, const std::set<std::string>& known,
                               client_properties& out, std::string& error);

} // namespace mephisto
