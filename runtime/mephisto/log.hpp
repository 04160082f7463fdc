#pragma once

#include <string>

#include <spdlog/spdlog.h>

namespace mephisto {

/// The process-wide logger (spdlog, thread-safe, to stderr). CAF 0.17's own logging is
/// compiled out of the Debian build, so every Mephisto component logs through this.
spdlog::logger& log();

/// Sets the level from a name: trace, debug, info, warn, error, off. Returns false for an
/// unknown name.
bool set_log_level(const std::string& level);

} // namespace mephisto
