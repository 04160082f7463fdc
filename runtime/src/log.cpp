#include "mephisto/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace mephisto {

spdlog::logger& log() {
  static auto instance = [] {
    auto lg = spdlog::stderr_color_mt("mephisto");
    lg->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
    lg->set_level(spdlog::level::info);
    lg->flush_on(spdlog::level::info);
    return lg;
  }();
  return *instance;
}

bool set_log_level(const std::string& level) {
  static const char* names[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  for (auto* name : names) {
    if (level == name) {
      log().set_level(spdlog::level::from_str(level));
      return true;
    }
  }
  return false;
}

} // namespace mephisto
