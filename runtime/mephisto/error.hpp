#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace mephisto {

/// Error codes of the Mephisto runtime. Every error crossing a component boundary is a
/// `caf::error` in the `mephisto` category carrying one of these codes and a message
/// that names the thing that went wrong (topic, partition, offset, key, URL, ...).
enum class errc : uint8_t {
  bad_config = 1,
  bad_broker_url,
  broker_unreachable,
  topic_missing,
  topic_mismatch,
  topic_creation_failed,
  kafka_error,
  recovery_failed,
  decode_failed,
  produce_failed,
  timeout,
  store_failed,
  transaction_failed,
  fenced,
  partition_failed,
  not_ready,
  not_owned,
  refused,
  stopped, ///< the worker (or the handle's actor) is gone
  authentication_failed, ///< the broker refused the login (SASL or TLS client credentials)
};

/// Returns the name of `code`, e.g. "broker_unreachable".
const char* to_string(errc code);

/// Makes an error of the `mephisto` category.
caf::error make_error(errc code, std::string message);

/// Renders any error for humans: "broker_unreachable: cannot reach ...".
std::string render(const caf::error& err);

/// Returns true when `err` is a Mephisto error with the code `code`.
bool is(const caf::error& err, errc code);

template <class T>
using expected = caf::expected<T>;

} // namespace mephisto
