#include "support/shares.hpp"

#include <regex>
#include <thread>

#include "support/http_client.hpp"

namespace testkit {

using namespace std::chrono_literals;

bool wait_for_split(mephisto::testing::harness& h, const std::vector<int>& instances,
                    size_t partitions, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string shares;
    size_t held = 0;
    bool settled = true;
    for (auto i : instances) {
      if (!h.running(i)) {
        h.note("instance " + std::to_string(i) + " exited while waiting for the split");
        return false;
      }
      auto ready = h.metric(i, "mephisto_ready");
      auto assigned = h.metric(i, "mephisto_assigned_partitions");
      settled = settled && ready == 1.0 && assigned >= 1.0;
      auto share = static_cast<size_t>(assigned.value_or(0));
      held += share;
      shares += (shares.empty() ? "" : " + ") + std::to_string(share);
    }
    if (settled && held == partitions) {
      h.note("split: " + shares + " partitions");
      return true;
    }
    std::this_thread::sleep_for(50ms);
  }
  h.note("no split of " + std::to_string(partitions) + " partitions within "
         + std::to_string(timeout.count()) + " ms");
  return false;
}

namespace {

/// The partitions of `topic` instance `i` has a mephisto_consumer_lag series for.
std::set<int32_t> partitions_processed(const mephisto::testing::harness& h, int i,
                                       const std::string& topic) {
  static const std::regex series{R"(^mephisto_consumer_lag\{(.*)\}$)"};
  static const std::regex label{R"re(([a-z_]+)="([^"]*)")re"};
  std::set<int32_t> out;
  auto page = http_get(h.web_address(i), "/metrics");
  if (page.status != 200)
    return out;
  for (auto& [name, value] : parse_metrics(page.body)) {
    std::smatch m;
    if (!std::regex_match(name, m, series))
      continue;
    std::string labels = m[1], t;
    int32_t partition = -1;
    for (std::sregex_iterator it{labels.begin(), labels.end(), label}, end; it != end; ++it) {
      if ((*it)[1] == "topic")
        t = (*it)[2];
      else if ((*it)[1] == "partition")
        partition = std::stoi((*it)[2]);
    }
    if (t == topic && partition >= 0)
      out.insert(partition);
  }
  return out;
}

} // namespace

std::optional<std::vector<std::set<int32_t>>>
wait_for_processed_split(const mephisto::testing::harness& h, const std::vector<int>& instances,
                         const std::string& topic, size_t partitions,
                         std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::vector<std::set<int32_t>> shares;
    std::set<int32_t> all;
    size_t held = 0;
    for (auto i : instances) {
      shares.push_back(partitions_processed(h, i, topic));
      held += shares.back().size();
      all.insert(shares.back().begin(), shares.back().end());
    }
    if (held == partitions && all.size() == partitions)
      return shares;
    std::this_thread::sleep_for(100ms);
  }
  return std::nullopt;
}

} // namespace testkit
