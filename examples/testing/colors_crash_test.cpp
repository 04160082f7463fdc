// The colors app under five kill -9s, exactly-once, on the kit's real broker.
#include <gtest/gtest.h>
#include <mephisto/testing.hpp>
#include <unistd.h>

using namespace std::chrono_literals;
namespace mt = mephisto::testing;

TEST(colors, exactly_once_survives_five_kill_9s) {
  auto broker = mt::kafka_broker::for_tests(); // $MEPHISTO_TESTING_KAFKA_DIR's, or a new one
  mt::recreate_topic(broker->bootstrap(), "input", 8);
  mt::recreate_topic(broker->bootstrap(), "output", 8);
  mt::harness h{{.binary = COLORS_BIN, .broker = broker->url(), .dir = mt::temp_dir("crash"),
                 .worker_args = {"--processing_guarantee", "exactly_once", "--instance_id",
                                 "crash", "--id", "colors-crash-" + std::to_string(getpid())},
                 .seed = 7}};
  std::vector<mt::input_record> words;
  std::map<std::string, int64_t> truth;
  for (int i = 0; i < 50000; ++i) {
    std::string word = i % 3 == 0 ? "red" : i % 5 == 0 ? "blue" : "cat";
    words.emplace_back(std::nullopt, word);
    if (word != "cat")
      ++truth[word];
  }
  int worker = h.start();
  for (int round = 0; round < 5; ++round) {
    ASSERT_TRUE(h.wait_ready(worker, 90s)) << h.timeline() << h.log(worker);
    mt::produce(broker->bootstrap(), "input",
                {words.begin() + round * 10000, words.begin() + (round + 1) * 10000});
    std::this_thread::sleep_for(h.between(100ms, 1500ms));
    h.kill(worker);
    h.restart(worker);
  }
  size_t expected = truth["red"] + truth["blue"];
  auto output = mt::consume(broker->bootstrap(), "output", expected, 120s);
  EXPECT_EQ(h.stop(worker), 0) << h.log(worker);
  auto result = mt::check_exactly_once(output, truth);
  EXPECT_TRUE(result) << result.message() << "\n" << h.timeline();
}
