#include "mephisto/detail/node_map.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <stdexcept>
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

namespace {

/// A hash under which every key has the same home and tag: one probe run that holds every
/// key and wraps around the table's end, where each lookup compares whole keys.
struct one_hash {
  // Mixed by node_map::hash_of, 12365 lands at 99 % of any table: the run wraps.
  size_t operator()(const std::string&) const { return 12365; }
};

} // namespace

TEST(node_map, a_hash_that_puts_every_key_in_one_probe_run_still_agrees_with_std_map) {
  mephisto::detail::node_map<std::string, int64_t, one_hash> m;
  std::map<std::string, int64_t> model;
  std::mt19937_64 rng{7};
  for (int step = 0; step < 20000; ++step) {
    auto key = "k" + std::to_string(rng() % 300);
    if (rng() % 3 != 0) {
      auto [kv, made] = m.try_emplace(key, step);
      EXPECT_EQ(made, model.count(key) == 0);
      model.try_emplace(key, step);
      EXPECT_EQ(kv->second, model[key]);
    } else {
      // Erases from the middle of the run: the keys behind it must move back.
      EXPECT_EQ(m.erase(key), model.erase(key) == 1);
    }
  }
  ASSERT_EQ(m.size(), model.size());
  for (auto& [key, value] : model) {
    auto* kv = m.find(key);
    ASSERT_NE(kv, nullptr) << key;
    EXPECT_EQ(kv->second, value);
  }
}

TEST(node_map, hashed_calls_agree_with_the_plain_ones) {
  map m;
  for (int i = 0; i < 10000; ++i) {
    auto key = "key-" + std::to_string(i);
    auto hash = map::hash_of(key);
    m.prefetch_slot(hash);
    m.prefetch_entry(hash);
    auto [kv, made] = m.hashed_try_emplace(hash, key, i);
    ASSERT_TRUE(made);
    EXPECT_EQ(kv->hash, hash);
    EXPECT_EQ(m.find(key), kv);
  }
  for (int i = 0; i < 10000; i += 2) {
    auto key = "key-" + std::to_string(i);
    EXPECT_EQ(m.hashed_find(map::hash_of(key), key)->second, i);
    EXPECT_TRUE(m.hashed_erase(map::hash_of(key), key));
    EXPECT_FALSE(m.hashed_erase(map::hash_of(key), key));
  }
  EXPECT_EQ(m.size(), 5000u);
  EXPECT_EQ(m.find("key-2"), nullptr);
  EXPECT_EQ(m.find("key-3")->second, 3);
}

TEST(node_map, erase_if_whose_predicate_throws_keeps_every_entry_it_did_not_erase) {
  map m;
  for (int i = 0; i < 1000; ++i)
    m.try_emplace("k" + std::to_string(i), i);
  int asked = 0;
  EXPECT_THROW(m.erase_if([&asked](const map::node& kv) {
                 if (++asked == 500)
                   throw std::runtime_error("predicate failed");
                 return kv.second % 2 == 0;
               }),
               std::runtime_error);
  // 499 entries were judged: the even ones among them are gone, everything else stays and
  // is found (the table was rebuilt after its emptied slots).
  size_t even_left = 0;
  for (int i = 0; i < 1000; ++i) {
    auto* kv = m.find("k" + std::to_string(i));
    if (i % 2 == 1) {
      ASSERT_NE(kv, nullptr) << i;
      EXPECT_EQ(kv->second, i);
    } else if (kv != nullptr) {
      ++even_left;
    }
  }
  EXPECT_EQ(m.size(), 500u + even_left);
  EXPECT_GT(even_left, 0u);
  EXPECT_LT(even_left, 500u);
}

TEST(memory_store, restore_batch_ends_as_one_by_one_restores_do) {
  mephisto::memory_store<std::string, int64_t> batched;
  mephisto::memory_store<std::string, int64_t> single;
  std::mt19937_64 rng{11};
  std::vector<std::string> keys;
  std::vector<std::string> values;
  std::vector<bool> tombstone;
  for (int i = 0; i < 20000; ++i) {
    keys.push_back("key-" + std::to_string(rng() % 3000));
    values.push_back(std::to_string(i));
    tombstone.push_back(rng() % 10 == 0);
  }
  std::string why;
  for (size_t from = 0; from < keys.size(); from += 1000) {
    std::vector<mephisto::restore_record> batch;
    for (auto i = from; i < from + 1000; ++i) {
      batch.push_back({keys[i], tombstone[i] ? std::nullopt
                                             : std::optional<std::string_view>{values[i]}});
      ASSERT_TRUE(single.restore(batch.back().key, batch.back().value, why)) << why;
    }
    ASSERT_EQ(batched.restore_batch(batch, why), batch.size()) << why;
  }
  std::vector<std::pair<std::string, std::string>> a;
  std::vector<std::pair<std::string, std::string>> b;
  batched.snapshot(a);
  single.snapshot(b);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_GT(a.size(), 2000u);
  EXPECT_EQ(a, b);
}

TEST(memory_store, restore_batch_applies_the_records_before_one_it_cannot_decode_and_none_after) {
  mephisto::memory_store<int64_t, int64_t> s;
  std::string why;
  std::vector<mephisto::restore_record> bad_value{
    {"1", "10"}, {"2", "20"}, {"1", std::nullopt}, {"3", "thirty"}, {"4", "40"}};
  EXPECT_EQ(s.restore_batch(bad_value, why), 3u);
  EXPECT_EQ(why.rfind("value: ", 0), 0u) << why;
  EXPECT_EQ(s.find(1), nullptr);
  ASSERT_NE(s.find(2), nullptr);
  EXPECT_EQ(*s.find(2), 20);
  EXPECT_EQ(s.find(3), nullptr);
  EXPECT_EQ(s.find(4), nullptr);
  std::vector<mephisto::restore_record> bad_key{{"5", "50"}, {"five", "50"}, {"6", "60"}};
  EXPECT_EQ(s.restore_batch(bad_key, why), 1u);
  EXPECT_EQ(why.rfind("key: ", 0), 0u) << why;
  ASSERT_NE(s.find(5), nullptr);
  EXPECT_EQ(s.find(6), nullptr);
  EXPECT_EQ(s.size(), 2u);
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
