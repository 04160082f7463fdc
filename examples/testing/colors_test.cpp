// The colors app tested with the driver: no broker, one thread, well under a second.
#include <gtest/gtest.h>
#include <mephisto/testing.hpp>

#include "colors_app.hpp" // colors::declare(app): the app's topics, table and agents

TEST(colors, counts_every_color_once_and_in_order) {
  mephisto::app app{"colors"};
  colors::declare(app);
  mephisto::testing::driver d{app, {.partitions = 8}};
  std::map<std::string, int64_t> truth;
  for (int i = 0; i < 30000; ++i) {
    std::string word = i % 3 == 0 ? "red" : i % 5 == 0 ? "blue" : "cat";
    d.pipe_raw("input", std::nullopt, word);
    if (word != "cat")
      ++truth[word];
  }
  auto result = mephisto::testing::check_exactly_once(d.records("output"), truth);
  EXPECT_TRUE(result) << result.message();
  EXPECT_TRUE(d.dead_letters().empty());
  EXPECT_EQ(d.stats().events.load(), 30000u + truth["red"] + truth["blue"]);
}
