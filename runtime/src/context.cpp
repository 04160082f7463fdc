#include "mephisto/context.hpp"

#include <stdexcept>

#include <librdkafka/rdkafka.h>

namespace mephisto {

bool detail::reply_route_of(const void* msg, std::string& to, std::string& id) {
  rd_kafka_headers_t* headers = nullptr;
  auto* m = static_cast<rd_kafka_message_t*>(const_cast<void*>(msg));
  if (rd_kafka_message_headers(m, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return false;
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, "mephisto.reply-to", &value, &size)
      != RD_KAFKA_RESP_ERR_NO_ERROR)
    return false;
  to.assign(static_cast<const char*>(value), size);
  if (rd_kafka_header_get_last(headers, "mephisto.ask-id", &value, &size)
      != RD_KAFKA_RESP_ERR_NO_ERROR)
    return false;
  id.assign(static_cast<const char*>(value), size);
  return true;
}

void context::throw_undeclared(const std::string& table) const {
  throw std::logic_error("agent '" + agent_ + "' uses table '" + table
                         + "' without declaring it: pass {.tables = {" + table
                         + "}} as the last argument of app.agent");
}

} // namespace mephisto
