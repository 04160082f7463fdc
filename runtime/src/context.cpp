#include "mephisto/context.hpp"

#include <stdexcept>

namespace mephisto {

void context::throw_undeclared(const std::string& table) const {
  throw std::logic_error("agent '" + agent_ + "' uses table '" + table
                         + "' without declaring it: pass {.tables = {" + table
                         + "}} as the last argument of app.agent");
}

} // namespace mephisto
