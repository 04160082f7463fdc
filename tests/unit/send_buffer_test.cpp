// send_buffer's size check: a record over its topic's limit is noted (the first one), seen
// from a mark at or before it, forgotten by a rollback past it and by clear.

#include "mephisto/send_buffer.hpp"

#include <string>

#include <gtest/gtest.h>

using mephisto::send_buffer;

namespace {

void add(send_buffer& out, uint32_t topic, const std::string& key, const std::string& value) {
  out.add<std::string, std::string>(topic, send_buffer::any_partition, &key, &value);
}

} // namespace

TEST(send_buffer, notes_the_first_record_over_its_topics_limit) {
  const uint32_t limits[] = {10, 1000};
  send_buffer out;
  out.limit(limits);
  add(out, 0, "k", "123456789"); // 10 bytes: at the limit, fine
  auto before = out.position();
  EXPECT_EQ(out.oversized_since(before), nullptr);
  add(out, 1, "k", std::string(500, 'x')); // topic 1 takes it
  add(out, 0, "k", "1234567890");          // 11 bytes over 10
  add(out, 0, "k", std::string(50, 'y'));  // a second one: the first stays noted
  auto* big = out.oversized_since(before);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->record, 2u);
  EXPECT_EQ(big->topic, 0u);
  EXPECT_EQ(big->size, 11u);
  EXPECT_EQ(big->limit, 10u);
  EXPECT_EQ(out.size(), 4u) << "the records stay until the caller rolls them back";
  auto after = out.position();
  EXPECT_EQ(out.oversized_since(after), nullptr) << "nothing over the limit since `after`";
  out.rollback(before);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(out.oversized_since(before), nullptr);
  add(out, 0, "k", "1234567890");
  EXPECT_NE(out.oversized_since(before), nullptr);
  out.clear();
  EXPECT_EQ(out.oversized_since(out.position()), nullptr);
}

TEST(send_buffer, without_limits_nothing_is_checked) {
  send_buffer out;
  add(out, 0, "k", std::string(100'000, 'x'));
  EXPECT_EQ(out.oversized_since({0, 0}), nullptr);
}
