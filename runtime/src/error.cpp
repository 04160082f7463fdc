#include "mephisto/error.hpp"

#include <caf/atom.hpp>
#include <caf/make_message.hpp>
#include <caf/sec.hpp>

namespace mephisto {

namespace {

constexpr auto category = caf::atom("mephisto");

} // namespace

const char* to_string(errc code) {
  switch (code) {
    case errc::bad_config: return "bad_config";
    case errc::bad_broker_url: return "bad_broker_url";
    case errc::broker_unreachable: return "broker_unreachable";
    case errc::topic_missing: return "topic_missing";
    case errc::topic_mismatch: return "topic_mismatch";
    case errc::topic_creation_failed: return "topic_creation_failed";
    case errc::kafka_error: return "kafka_error";
    case errc::recovery_failed: return "recovery_failed";
    case errc::decode_failed: return "decode_failed";
    case errc::produce_failed: return "produce_failed";
    case errc::timeout: return "timeout";
    case errc::store_failed: return "store_failed";
    case errc::transaction_failed: return "transaction_failed";
    case errc::fenced: return "fenced";
    case errc::partition_failed: return "partition_failed";
    case errc::not_ready: return "not_ready";
    case errc::not_owned: return "not_owned";
    case errc::refused: return "refused";
    case errc::stopped: return "stopped";
    case errc::authentication_failed: return "authentication_failed";
  }
  return "unknown";
}

caf::error make_error(errc code, std::string message) {
  return caf::error{static_cast<uint8_t>(code), category,
                    caf::make_message(std::move(message))};
}

bool is(const caf::error& err, errc code) {
  return err.category() == category && err.code() == static_cast<uint8_t>(code);
}

std::string render(const caf::error& err) {
  if (!err)
    return "no error";
  if (err.category() == category) {
    std::string out = to_string(static_cast<errc>(err.code()));
    auto& ctx = err.context();
    if (ctx.size() == 1 && ctx.match_element<std::string>(0)) {
      out += ": ";
      out += ctx.get_as<std::string>(0);
    }
    return out;
  }
  if (err.category() == caf::atom("system"))
    return caf::to_string(static_cast<caf::sec>(err.code()));
  return caf::to_string(err);
}

} // namespace mephisto
