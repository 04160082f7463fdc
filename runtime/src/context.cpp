#include "mephisto/context.hpp"

#include <stdexcept>

#include "mephisto/log.hpp"

namespace mephisto {

bool detail::reply_route_of(const consumed_record& rec, std::string& to, std::string& id) {
  std::string_view value;
  if (!rec.header("mephisto.reply-to", value))
    return false;
  to.assign(value);
  if (!rec.header("mephisto.ask-id", value))
    return false;
  id.assign(value);
  return true;
}

void context::throw_undeclared(const std::string& table) const {
  throw std::logic_error("agent '" + agent_ + "' uses table '" + table
                         + "' without declaring it: pass {.tables = {" + table
                         + "}} as the last argument of app.agent");
}

void context::throw_unknown_global(const std::string& table) const {
  throw std::logic_error("agent '" + agent_ + "' reads global table '" + table
                         + "', which its app did not declare");
}

void detail::log_close_failure(const std::string& table, int64_t start, int64_t end,
                               const char* what) {
  log().warn("table {}: the window-close callback failed for window [{}, {}]: {}; its sends "
             "were dropped and the window is closed",
             table, start, end, what);
}

} // namespace mephisto
