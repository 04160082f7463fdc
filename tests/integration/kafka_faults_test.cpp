// Fault injection with the public test kit (mephisto/testing.hpp) on the fixture's real
// broker: an exactly-once colors worker that fails at an offset, crashes at another,
// runs one partition slowly and loses its produce requests for a second; an exactly-once
// RocksDB counter killed -9 with its store corrupted. Each check names its
// first divergence and prints the harness's timeline.

#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "mephisto/testing.hpp"

using namespace std::chrono_literals;
namespace mt = mephisto::testing;

namespace {

struct kafka_faults : ::testing::Test {
  void SetUp() override {
    broker = mt::kafka_broker::for_tests();
    name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    id = "faults-" + name + "-" + std::to_string(::getpid());
  }

  std::unique_ptr<mt::kafka_broker> broker;
  std::string name;
  std::string id;
};

/// Words with every third a color; `truth` counts the colors.
std::vector<mt::input_record> words(size_t n, std::map<std::string, int64_t>& truth) {
  static const char* vocabulary[] = {"red", "cat", "dog", "green", "owl", "eel", "blue", "fox", "ant"};
  std::vector<mt::input_record> out;
  for (size_t i = 0; i < n; ++i) {
    std::string w = vocabulary[(i * 7 + i / 9) % 9];
    if (w == "red" || w == "green" || w == "blue")
      ++truth[w];
    out.emplace_back(std::nullopt, w);
  }
  return out;
}

} // namespace

TEST_F(kafka_faults, exactly_once_colors_survive_injected_failures_a_slow_partition_and_lost_produces) {
  mt::recreate_topic(broker->bootstrap(), "input", 4);
  mt::recreate_topic(broker->bootstrap(), "output", 4);
  mt::harness h{{.binary = COLORS_BIN, .broker = broker->url(), .dir = mt::temp_dir(name),
                 .worker_args = {"--id", id, "--processing_guarantee", "exactly_once",
                                 "--topic_partitions", "4", "--batch_size", "200"},
                 .seed = 11}};
  std::map<std::string, int64_t> truth;
  auto input = words(40'000, truth);
  int w = h.start({mt::faults::fail_at("input", 1, 2000), mt::faults::crash_at("input", 2, 5000),
                   mt::faults::slow("input", 3, 5ms),
                   mt::faults::produce_failures(2500ms, 3500ms)});
  ASSERT_TRUE(h.wait_ready(w, 90s)) << h.timeline() << h.log(w);
  // Fed in 10 chunks over about 5 s, so that events flow through the produce failures.
  for (size_t chunk = 0; chunk < 10; ++chunk) {
    mt::produce(broker->bootstrap(), "input",
                {input.begin() + chunk * 4000, input.begin() + (chunk + 1) * 4000});
    std::this_thread::sleep_for(h.between(300ms, 700ms));
  }
  h.note("input fed");
  size_t expected = 0;
  for (auto& [color, n] : truth)
    expected += static_cast<size_t>(n);
  auto output = mt::consume(broker->bootstrap(), "output", expected, 180s);
  auto restarts = h.metric(w, "mephisto_restarts_total");
  auto aborts = h.metric(w, "mephisto_aborts_total");
  EXPECT_EQ(h.stop(w), 0) << h.log(w);
  auto r = mt::check_exactly_once(output, truth);
  EXPECT_TRUE(r) << r.message() << "\n" << h.timeline();
  // The injected failures and the failed produce requests each restarted a partition
  // and, under exactly-once, aborted the open transaction.
  ASSERT_TRUE(restarts && aborts) << h.timeline();
  EXPECT_GE(*restarts, 3) << h.timeline();
  EXPECT_GE(*aborts, 3) << h.timeline();
  std::printf("[ summary  ] exactly-once colors with fail@, crash@, slow@ and produce-fail@: "
              "%s; %.0f restarts, %.0f aborted transactions\n%s",
              r.message().c_str(), *restarts, *aborts, h.timeline().c_str());
}

TEST_F(kafka_faults, exactly_once_rocksdb_counts_survive_a_kill_9_and_a_corrupted_store) {
  mt::recreate_topic(broker->bootstrap(), "events", 4);
  mt::recreate_topic(broker->bootstrap(), "counts-out", 4);
  mt::harness h{{.binary = COUNT_BIN, .broker = broker->url(), .dir = mt::temp_dir(name),
                 .rocksdb = true,
                 .worker_args = {"--id", id, "--topic_partitions", "4", "--processing_guarantee",
                                 "exactly_once", "--instance_id", "counter"},
                 .seed = 12}};
  std::vector<mt::input_record> events;
  std::map<std::string, int64_t> truth;
  for (int i = 0; i < 30'000; ++i) {
    auto key = "k" + std::to_string((i * 31) % 500);
    events.emplace_back(key, "e" + std::to_string(i));
    ++truth[key];
  }
  int w = h.start();
  ASSERT_TRUE(h.wait_ready(w, 90s)) << h.timeline() << h.log(w);
  mt::produce(broker->bootstrap(), "events", {events.begin(), events.begin() + 15'000});
  std::this_thread::sleep_for(h.between(500ms, 1500ms));
  h.kill(w);
  h.corrupt_store(w);
  h.restart(w);
  ASSERT_TRUE(h.wait_ready(w, 90s)) << h.timeline() << h.log(w);
  mt::produce(broker->bootstrap(), "events", {events.begin() + 15'000, events.end()});
  auto output = mt::consume(broker->bootstrap(), "counts-out", events.size(), 180s);
  auto restored = h.metric(w, "mephisto_restored_records_total");
  EXPECT_EQ(h.stop(w), 0) << h.log(w);
  auto r = mt::check_exactly_once(output, truth);
  EXPECT_TRUE(r) << r.message() << "\n" << h.timeline();
  // The corrupted store was rebuilt from the changelog.
  ASSERT_TRUE(restored) << h.timeline();
  EXPECT_GT(*restored, 0) << h.timeline();
  std::printf("[ summary  ] exactly-once rocksdb counts, kill -9 and a corrupted store: %s; "
              "%.0f changelog records restored\n%s",
              r.message().c_str(), *restored, h.timeline().c_str());
}
