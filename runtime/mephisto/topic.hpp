#pragma once

#include <cstdint>
#include <string>

namespace mephisto {

/// How a topic is declared.
struct topic_options {
  /// Number of partitions. 0: `topic_partitions` from the worker options for internal
  /// topics; for external topics whatever the broker has.
  int32_t partitions = 0;
  /// Internal topics belong to the app: named `<app-id>-<name>` and created on start.
  /// External (source) topics are never created or altered, except on the embedded broker.
  bool internal = false;
};

/// A typed handle to a declared topic: keys of type `K`, values of type `V`. Cheap to
/// copy; capture it by value in agent functions.
template <class K, class V>
class topic {
public:
  using key_type = K;
  using value_type = V;

  topic(uint32_t index, std::string name) : index_(index), name_(std::move(name)) {}

  uint32_t index() const noexcept { return index_; }

  const std::string& name() const noexcept { return name_; }

private:
  uint32_t index_;
  std::string name_;
};

} // namespace mephisto
