#include "mephisto/context.hpp"

#include <stdexcept>

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

} // namespace mephisto
