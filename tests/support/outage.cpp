#include "outage.hpp"

#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <mephisto/testing.hpp>

// The broker-outage scenario (see outage.hpp). One worker process; a feeder thread produces
// 1000 words every 100 ms (its producer keeps the words of the outage and sends them when
// the broker is back, so input arrives before, during and after); the outage begins once a
// third of the words are in and the worker has produced output.

namespace testkit {

namespace {

using clock_type = std::chrono::steady_clock;

double since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

} // namespace

outage_report broker_outage(const std::string& scenario, const outage_plan& plan) {
  outage_report rep;
  auto words = make_words(plan.words, plan.seed);
  auto& h = *plan.workers;
  int w = h.start();
  // The first chunk, then wait until the worker has its partitions and produces output.
  const size_t chunk = 1000;
  produce(plan.bootstrap, "input",
          std::vector<std::string>(words.words.begin(), words.words.begin() + chunk));
  std::atomic<size_t> fed{chunk};
  auto deadline = clock_type::now() + std::chrono::seconds(90);
  while (end_offsets_total(plan.bootstrap, "output", isolation::read_committed) <= 0
         && clock_type::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // The rest in chunks from a thread; each chunk waits for its acknowledgements, so `fed`
  // says what is in Kafka. Across the outage a chunk waits until the broker is back.
  std::jthread feeder{[&](std::stop_token stop) {
    auto next = clock_type::now();
    for (size_t i = chunk; i < words.words.size() && !stop.stop_requested(); i += chunk) {
      auto end = std::min(i + chunk, words.words.size());
      std::vector<std::string> part(words.words.begin() + i, words.words.begin() + end);
      produce(plan.bootstrap, "input", part, plan.outage + std::chrono::seconds(90));
      fed = end;
      next = std::max(next + std::chrono::milliseconds(100), clock_type::now());
      std::this_thread::sleep_until(next);
    }
  }};
  // Mid-stream: a third of the input is in.
  while (fed < plan.words / 3 && clock_type::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  rep.fed_before = fed;
  EXPECT_LT(rep.fed_before, plan.words) << "the outage must begin mid-stream";
  auto visible_before = end_offsets_total(plan.bootstrap, "output", isolation::read_committed);
  EXPECT_GT(visible_before, 0) << "no output before the outage\n" << h.timeline() << h.log(w);

  h.note("broker unreachable for " + std::to_string(plan.outage.count()) + " s");
  plan.set_reachable(false);
  std::this_thread::sleep_for(plan.outage);
  EXPECT_TRUE(h.running(w)) << "the worker exited during the outage\n" << h.timeline()
                            << h.log(w);
  plan.set_reachable(true);
  h.note("broker back");
  auto back = clock_type::now();
  // The first new output after the outage: one beyond what was visible before it and at
  // the broker's first answer (an upper bound then: what came in while the first answer was
  // under way counts as old). Read committed: under exactly-once, committed outputs.
  int64_t baseline = -1;
  while (since(back) < 120) {
    auto now_visible = end_offsets_total(plan.bootstrap, "output", isolation::read_committed,
                                         std::chrono::seconds(1));
    if (baseline < 0 && now_visible >= 0)
      baseline = std::max(visible_before, now_visible);
    else if (baseline >= 0 && now_visible > baseline) {
      rep.resume_s = since(back);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(rep.resume_s, 0) << "no new output within 120 s of the broker's return\n"
                             << h.timeline() << h.log(w);
  feeder.join();
  rep.fed_all_s = since(back);
  EXPECT_EQ(fed.load(), plan.words);

  // Everything processed: wait until the checker passes (or two minutes went by).
  std::vector<mephisto::testing::topic_record> output;
  mephisto::testing::check_result checked;
  auto check = [&] {
    output.clear();
    // Everything there is (under at-least-once more than the truth).
    output = consume(plan.bootstrap, "output", SIZE_MAX, std::chrono::seconds(3));
    checked = plan.exactly_once ? mephisto::testing::check_exactly_once(output, words.colors)
                                : mephisto::testing::check_at_least_once(output, words.colors);
    // At-least-once: nothing missing. Counts past the truth are allowed: events replayed
    // from the last committed offset are counted again by a table that kept them.
    return plan.exactly_once ? checked.ok : checked.missing == 0 && !output.empty();
  };
  bool passed = false;
  auto done_by = clock_type::now() + std::chrono::seconds(120);
  while (!(passed = check()) && clock_type::now() < done_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  if (passed)
    rep.complete_s = since(back);
  if (!passed) { // which running counts are missing: the runs of lost outputs
    std::string gaps;
    for (auto& [key, first, last] : missing_runs(output, words.colors))
      gaps += " " + key + ":" + std::to_string(first) + ".." + std::to_string(last);
    ADD_FAILURE() << checked.message() << "\nmissing running counts:" << gaps << "\n"
                  << h.timeline() << h.log(w);
  }
  EXPECT_TRUE(h.running(w)) << "the worker exited\n" << h.timeline() << h.log(w);
  EXPECT_EQ(h.stop(w), 0) << h.timeline() << h.log(w);
  rep.records = output.size();
  rep.missing = checked.missing;
  rep.duplicates = checked.duplicates;
  rep.passed = passed;
  rep.past_truth = checked.past_truth;
  std::printf("[ summary  ] %s: %zu words (%zu color outputs), broker unreachable %lld s "
              "after %zu words; first new output %.1f s after it came back; %zu lost, %zu "
              "duplicated outputs, %zu outputs past the truth; all outputs %.1f s after it "
              "came back (the last words acknowledged %.1f s after it)\n",
              scenario.c_str(), plan.words, words.color_words,
              static_cast<long long>(plan.outage.count()), rep.fed_before, rep.resume_s,
              rep.missing, rep.duplicates, rep.past_truth, rep.complete_s, rep.fed_all_s);
  return rep;
}

} // namespace testkit
