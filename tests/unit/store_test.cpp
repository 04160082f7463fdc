#include "mephisto/store.hpp"

#include <map>

#include <gtest/gtest.h>

#include "mephisto/table.hpp"

using store = mephisto::memory_store<std::string, int64_t>;

namespace {

/// The changelog records staged in `out`, as key -> value ("<null>" for tombstones).
std::map<std::string, std::string> changes(const mephisto::send_buffer& out) {
  std::map<std::string, std::string> result;
  for (size_t i = 0; i < out.size(); ++i) {
    auto& r = out[i];
    EXPECT_EQ(r.topic, 9u);
    EXPECT_EQ(r.partition, 3);
    result[std::string{out.key(r)}] = r.has_value ? std::string{out.value(r)} : "<null>";
  }
  return result;
}

} // namespace

TEST(memory_store, one_changelog_record_per_changed_key_per_batch) {
  store s;
  mephisto::table_view<std::string, int64_t> view{&s};
  for (int i = 0; i < 1000; ++i)
    ++view["red"];
  view["blue"] = 5;
  EXPECT_EQ(view.get_or("green", -1), -1);
  mephisto::send_buffer out;
  s.take_changes(out, 9, 3);
  EXPECT_EQ(changes(out), (std::map<std::string, std::string>{{"red", "1000"}, {"blue", "5"}}));
  out.clear();
  s.take_changes(out, 9, 3);
  EXPECT_TRUE(out.empty()) << "changes must be forgotten once taken";
}

TEST(memory_store, erase_writes_a_tombstone) {
  store s;
  mephisto::table_view<std::string, int64_t> view{&s};
  view["a"] = 1;
  view["b"] = 2;
  mephisto::send_buffer out;
  s.take_changes(out, 9, 3);
  out.clear();
  view["a"] = 3;
  EXPECT_TRUE(view.erase("a"));
  EXPECT_FALSE(view.erase("zzz"));
  s.take_changes(out, 9, 3);
  EXPECT_EQ(changes(out), (std::map<std::string, std::string>{{"a", "<null>"}}));
  EXPECT_EQ(s.size(), 1u);
}

TEST(memory_store, restore_applies_values_and_tombstones_and_rejects_garbage) {
  store s;
  std::string why;
  EXPECT_TRUE(s.restore("red", std::string_view{"7"}, why));
  EXPECT_TRUE(s.restore("blue", std::string_view{"2"}, why));
  EXPECT_TRUE(s.restore("red", std::string_view{"8"}, why));
  EXPECT_TRUE(s.restore("blue", std::nullopt, why));
  ASSERT_NE(s.find("red"), nullptr);
  EXPECT_EQ(*s.find("red"), 8);
  EXPECT_EQ(s.find("blue"), nullptr);
  EXPECT_FALSE(s.restore("red", std::string_view{"eight"}, why));
  EXPECT_NE(why.find("expected an integer"), std::string::npos) << why;
  mephisto::send_buffer out;
  s.take_changes(out, 9, 3);
  EXPECT_TRUE(out.empty()) << "restored records are not changes";
}

TEST(send_buffer, rollback_drops_records_of_a_failed_event) {
  mephisto::send_buffer out;
  std::string k = "k";
  int64_t v = 1;
  out.add<std::string, int64_t>(0, -1, &k, &v);
  auto mark = out.position();
  out.add<std::string, int64_t>(0, -1, &k, &v);
  out.add<std::string, int64_t>(1, 2, nullptr, &v);
  out.rollback(mark);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out.key(out[0]), "k");
  EXPECT_EQ(out.value(out[0]), "1");
}

TEST(memory_store, a_deleted_then_readded_key_ends_with_its_value) {
  store s;
  s.at("k") = 1;
  mephisto::send_buffer out;
  s.take_changes(out, 9, 3);
  out.clear();
  EXPECT_TRUE(s.erase("k"));
  s.at("k") = 2; // same batch: the changelog must end with 2, not a tombstone
  s.take_changes(out, 9, 3);
  EXPECT_EQ(changes(out), (std::map<std::string, std::string>{{"k", "2"}}));
  ASSERT_EQ(out.size(), 1u);
}

TEST(memory_store, undo_event_restores_what_a_failed_event_changed) {
  store s;
  s.at("a") = 1;
  s.at("b") = 2;
  mephisto::send_buffer out;
  s.take_changes(out, 9, 3); // a, b clean now
  out.clear();
  s.begin_event();
  s.at("c") = 3; // this event's changes are kept
  s.begin_event();
  s.at("a") += 10;
  s.at("a") += 10;
  EXPECT_TRUE(s.erase("b"));
  s.at("b") = 7;
  s.at("new") = 9;
  EXPECT_TRUE(s.erase("c"));
  s.undo_event(); // the event threw
  EXPECT_EQ(*s.find("a"), 1);
  EXPECT_EQ(*s.find("b"), 2);
  EXPECT_EQ(*s.find("c"), 3);
  EXPECT_EQ(s.find("new"), nullptr);
  EXPECT_EQ(s.size(), 3u);
  s.take_changes(out, 9, 3); // only the kept event's change goes to the changelog
  EXPECT_EQ(changes(out), (std::map<std::string, std::string>{{"c", "3"}}));
}

TEST(memory_store, confirmed_batches_move_its_changelog_offset_and_discard_forgets_all) {
  store s;
  mephisto::table_view<std::string, int64_t> view{&s};
  mephisto::send_buffer out;
  EXPECT_EQ(s.restored_offset(), 0);
  s.take_changes(out, 9, 3);
  EXPECT_EQ(s.seal(), nullptr) << "a batch without changes has no offset to record";
  view["red"] = 1;
  s.take_changes(out, 9, 3);
  auto first = s.seal();
  ASSERT_NE(first, nullptr);
  view["red"] = 2;
  s.take_changes(out, 9, 3);
  auto second = s.seal();
  ASSERT_NE(second, nullptr);
  EXPECT_FALSE(second->apply(42));
  EXPECT_EQ(s.restored_offset(), 42);
  EXPECT_FALSE(first->apply(17)); // confirmed late: the offset never goes back
  EXPECT_EQ(s.restored_offset(), 42);
  EXPECT_FALSE(s.checkpoint(50, false));
  EXPECT_EQ(s.restored_offset(), 50);
  EXPECT_FALSE(s.discard());
  EXPECT_EQ(s.restored_offset(), 0);
  EXPECT_EQ(s.size(), 0u);
  out.clear();
  s.take_changes(out, 9, 3);
  EXPECT_TRUE(out.empty()) << "discarded changes must not reach the changelog";
}
