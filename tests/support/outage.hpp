#pragma once

// The broker-outage scenario, run on the embedded broker (outage_test.cpp: the mock
// cluster's brokers set down) and on the real one (kafka_outage_test.cpp: the broker's
// JVM SIGSTOPped): the colors app in a worker process, words fed before, during and after
// an outage of 30 s, and the output checked with mephisto::testing's checkers.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "testkit.hpp"

namespace testkit {

/// What `broker_outage` needs: the broker, a harness that starts colors workers on it
/// (with the guarantee under test), and how to make the broker unreachable and back.
struct outage_plan {
  std::string bootstrap;
  mephisto::testing::harness* workers = nullptr;
  std::function<void(bool reachable)> set_reachable;
  bool exactly_once = false;
  size_t words = 60'000;
  uint32_t seed = 1;
  std::chrono::seconds outage{30};
};

/// What the outage did.
struct outage_report {
  double resume_s = -1;      ///< broker back -> the first new output visible (read committed)
  size_t fed_before = 0;     ///< words acknowledged before the outage began
  double fed_all_s = -1;     ///< broker back -> every word acknowledged by the broker
  double complete_s = -1;    ///< broker back -> every running count read back
  size_t records = 0;        ///< output records read at the end
  size_t missing = 0;        ///< running counts never emitted (must be 0)
  size_t duplicates = 0;     ///< running counts emitted more than once
  /// At-least-once: outputs counting beyond the truth (events replayed after a commit that
  /// failed were counted again by the table, which kept them). Exactly-once: must be 0.
  size_t past_truth = 0;
  bool passed = false;       ///< exactly-once: the checker passed; at-least-once: 0 missing
};

/// Runs the scenario (failing the current test on a lost output, a worker that exits, or a
/// resume that takes longer than two minutes) and prints a summary line named `scenario`.
outage_report broker_outage(const std::string& scenario, const outage_plan& plan);

} // namespace testkit
