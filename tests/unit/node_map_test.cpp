#include "mephisto/detail/node_map.hpp"

#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mephisto/store.hpp"

using map = mephisto::detail::node_map<std::string, int64_t>;

TEST(node_map, entries_keep_their_address_across_inserts_and_erases_of_others) {
  map m;
  auto [first, made] = m.try_emplace("first", 7);
  ASSERT_TRUE(made);
  // Enough inserts to grow the table many times over.
  for (int i = 0; i < 100000; ++i)
    m.try_emplace("k" + std::to_string(i), i);
  for (int i = 0; i < 100000; i += 2)
    EXPECT_TRUE(m.erase("k" + std::to_string(i)));
  EXPECT_EQ(m.find("first"), first);
  EXPECT_EQ(first->first, "first");
  EXPECT_EQ(first->second, 7);
  EXPECT_EQ(m.size(), 50001u);
  auto again = m.try_emplace("first", 99);
  EXPECT_FALSE(again.second);
  EXPECT_EQ(again.first, first);
  EXPECT_EQ(first->second, 7); // try_emplace never overwrites
}

TEST(node_map, agrees_with_std_map_under_random_inserts_erases_and_erase_if) {
  map m;
  std::map<std::string, int64_t> model;
  std::mt19937_64 rng{42};
  for (int step = 0; step < 200000; ++step) {
    auto key = "user-" + std::to_string(rng() % 5000);
    switch (rng() % 4) {
      case 0:
      case 1: {
        auto [kv, made] = m.try_emplace(key);
        EXPECT_EQ(made, model.count(key) == 0);
        kv->second = step;
        model[key] = step;
        break;
      }
      case 2:
        EXPECT_EQ(m.erase(key), model.erase(key) == 1);
        break;
      default:
        if (auto* kv = m.find(key)) {
          ASSERT_EQ(model.count(key), 1u);
          EXPECT_EQ(kv->second, model[key]);
          m.erase(kv);
          model.erase(key);
        } else {
          EXPECT_EQ(model.count(key), 0u);
        }
    }
    if (step % 50000 == 49999) {
      m.erase_if([](const map::node& kv) { return kv.second % 3 == 0; });
      std::erase_if(model, [](const auto& kv) { return kv.second % 3 == 0; });
    }
  }
  ASSERT_EQ(m.size(), model.size());
  std::map<std::string, int64_t> seen;
  m.for_each([&seen](const map::node& kv) { seen.emplace(kv.first, kv.second); });
  EXPECT_EQ(seen, model);
  m.clear();
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.find("user-1"), nullptr);
}

TEST(memory_store, a_value_reference_survives_restores_and_inserts_of_other_keys) {
  mephisto::memory_store<std::string, int64_t> s;
  std::string why;
  std::string value;
  mephisto::codec<int64_t>::encode(5, value);
  ASSERT_TRUE(s.restore("held", value, why)) << why;
  auto& held = s.at("held");
  for (int i = 0; i < 50000; ++i) {
    s.at("k" + std::to_string(i)) = i;
    ASSERT_TRUE(s.restore("r" + std::to_string(i), value, why)) << why;
  }
  EXPECT_EQ(held, 5);
  held = 6;
  ASSERT_NE(s.find("held"), nullptr);
  EXPECT_EQ(*s.find("held"), 6);
  EXPECT_EQ(s.size(), 100001u);
}
