#pragma once

// The fixture of process_test.cpp and cluster_lookup_test.cpp: the colors binary as users
// run it, separate processes on one embedded broker (`colors broker`, the kit's
// kafka_broker::embedded), workers started by the kit's harness.

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/testkit.hpp"

namespace process_suite {

using namespace std::chrono_literals;
namespace mt = mephisto::testing;

inline const std::string colors_bin = COLORS_BIN;

struct cluster : ::testing::Test {
  void SetUp() override {
    dir = testkit::temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    broker = mt::kafka_broker::embedded(colors_bin, dir + "/broker");
    bootstrap = broker->bootstrap();
    url = broker->url();
  }

  /// A harness of colors workers on the broker with `flags` (stores of their own with
  /// `rocksdb`).
  std::unique_ptr<mt::harness> workers(std::vector<std::string> flags = {},
                                       bool rocksdb = false) {
    return std::make_unique<mt::harness>(testkit::suite_workers(
      colors_bin, url, dir + "/workers-" + std::to_string(++harnesses), std::move(flags),
      rocksdb));
  }

  std::string dir;
  std::string url;
  std::string bootstrap;
  std::unique_ptr<mt::kafka_broker> broker;
  int harnesses = 0;
};

} // namespace process_suite
