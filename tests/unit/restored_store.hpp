#pragma once

// A table partition's store rebuilt from its changelog, as a restarting partition does:
// shared by the unit tests of windowed tables.

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "mephisto/testing.hpp"

namespace unit_support {

/// A memory store of table `table` of `a`, opened, fed every record of `changelog` (a
/// tombstone deletes) and done restoring. Throws std::runtime_error when the store refuses
/// a record.
inline std::shared_ptr<mephisto::store_base>
restored_store(const mephisto::app& a, uint32_t table,
               const std::vector<mephisto::testing::topic_record>& changelog) {
  auto& def = a.declared().tables.at(table);
  auto store = def.make_store(mephisto::store_place{nullptr, def.name, 0});
  std::string why;
  if (store->open(why))
    throw std::runtime_error("open: " + why);
  for (auto& r : changelog) {
    std::optional<std::string_view> value;
    if (r.has_value)
      value = r.value;
    if (!store->restore(r.key, value, why))
      throw std::runtime_error("offset " + std::to_string(r.offset) + ": " + why);
  }
  if (store->restore_done())
    throw std::runtime_error("restore_done failed");
  return store;
}

} // namespace unit_support
