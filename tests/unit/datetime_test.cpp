// `reset --to-datetime`: ISO 8601 dates and times into Unix milliseconds.

#include <gtest/gtest.h>

#include "src/group_commands.hpp"

namespace {

/// The milliseconds of `text`, -1 when refused.
int64_t ms(const char* text) {
  auto x = mephisto::parse_datetime(text);
  return x ? *x : -1;
}

} // namespace

TEST(datetime, utc_with_and_without_milliseconds) {
  EXPECT_EQ(ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ms("2026-12-01T10:00:00Z"), 1796119200000);
  EXPECT_EQ(ms("2026-12-01T10:00:00.25Z"), 1796119200250);
  EXPECT_EQ(ms("2024-02-29T23:59:59.999Z"), 1709251199999);
}

TEST(datetime, an_offset_is_subtracted) {
  EXPECT_EQ(ms("2026-12-01T12:00:00+02:00"), 1796119200000);
  EXPECT_EQ(ms("2026-12-01T05:30:00-04:30"), 1796119200000);
}

TEST(datetime, malformed_and_impossible_ones_are_refused) {
  for (auto bad : {"2026-12-01", "2026-12-01T10:00:00", "2026-12-01 10:00:00Z", "yesterday",
                   "2026-02-30T10:00:00Z", "2026-12-01T24:00:00Z", "2026-13-01T10:00:00Z"})
    EXPECT_EQ(ms(bad), -1) << bad;
}
