#include "mephisto/actors/fault_plan.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

namespace mephisto {

namespace {

bool to_int(std::string_view s, int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

/// "TOPIC/PARTITION/N" (the topic may hold '/': the last two fields are numbers).
bool split_target(const std::string& s, std::string& topic, int32_t& partition, int64_t& n) {
  auto last = s.rfind('/');
  if (last == std::string::npos || last == 0)
    return false;
  auto middle = s.rfind('/', last - 1);
  if (middle == std::string::npos || middle == 0)
    return false;
  int64_t p = 0;
  if (!to_int(std::string_view{s}.substr(middle + 1, last - middle - 1), p)
      || !to_int(std::string_view{s}.substr(last + 1), n) || p < 0 || n < 0)
    return false;
  topic = s.substr(0, middle);
  partition = static_cast<int32_t>(p);
  return true;
}

} // namespace

std::string fault_plan::failure::describe() const {
  return std::string{crash ? "crash" : "fail"} + "@" + topic + "/" + std::to_string(partition)
         + "/" + std::to_string(offset);
}

expected<std::shared_ptr<fault_plan>> fault_plan::parse(const std::string& text) {
  if (text.empty())
    return std::shared_ptr<fault_plan>{};
  auto plan = std::make_shared<fault_plan>();
  std::istringstream in{text};
  std::string part;
  while (std::getline(in, part, ';')) {
    if (part.empty())
      continue;
    auto bad = [&] {
      return make_error(errc::bad_config,
                        "inject_faults: cannot read '" + part
                          + "' (fail@TOPIC/PARTITION/OFFSET, crash@TOPIC/PARTITION/OFFSET, "
                            "slow@TOPIC/PARTITION/MS, produce-fail@FROM_MS-TO_MS or "
                            "cut-links@FILE)");
    };
    auto at = part.find('@');
    if (at == std::string::npos)
      return bad();
    auto kind = part.substr(0, at);
    auto rest = part.substr(at + 1);
    if (kind == "fail" || kind == "crash") {
      auto f = std::make_unique<failure>();
      if (!split_target(rest, f->topic, f->partition, f->offset))
        return bad();
      f->crash = kind == "crash";
      plan->failures.push_back(std::move(f));
    } else if (kind == "slow") {
      slowdown s;
      int64_t ms = 0;
      if (!split_target(rest, s.topic, s.partition, ms))
        return bad();
      s.delay = std::chrono::milliseconds{ms};
      plan->slow.push_back(std::move(s));
    } else if (kind == "produce-fail") {
      auto dash = rest.find('-');
      int64_t from = 0, to = 0;
      if (dash == std::string::npos || !to_int(std::string_view{rest}.substr(0, dash), from)
          || !to_int(std::string_view{rest}.substr(dash + 1), to) || from < 0 || to < from)
        return bad();
      plan->produce_fail_from = std::chrono::milliseconds{from};
      plan->produce_fail_to = std::chrono::milliseconds{to};
    } else if (kind == "cut-links" && !rest.empty()) {
      plan->links_file = rest;
    } else {
      return bad();
    }
  }
  return plan;
}

fault_plan::failure* fault_plan::take_failure(const std::string& name,
                                              const std::string& kafka_name, int32_t partition,
                                              int64_t first, int64_t next) {
  for (auto& f : failures) {
    if ((f->topic != name && f->topic != kafka_name) || f->partition != partition
        || f->offset < first || f->offset >= next)
      continue;
    bool expected = false;
    if (f->fired.compare_exchange_strong(expected, true))
      return f.get();
  }
  return nullptr;
}

std::chrono::milliseconds fault_plan::delay_of(const std::string& name,
                                               const std::string& kafka_name,
                                               int32_t partition) const {
  for (auto& s : slow)
    if ((s.topic == name || s.topic == kafka_name) && s.partition == partition)
      return s.delay;
  return std::chrono::milliseconds{0};
}

std::set<std::string> fault_plan::cut_links() const {
  std::set<std::string> peers;
  if (links_file.empty())
    return peers;
  std::ifstream in{links_file};
  for (std::string line; std::getline(in, line);)
    if (!line.empty())
      peers.insert(line);
  return peers;
}

bool fault_plan::produce_failing() const {
  if (produce_fail_from.count() < 0)
    return false;
  auto since = std::chrono::steady_clock::now() - start;
  return since >= produce_fail_from && since < produce_fail_to;
}

rd_kafka_resp_err_t faulty_output::send(uint32_t topic, int32_t partition, const void* key,
                                        size_t key_size, const void* value, size_t value_size,
                                        int64_t timestamp,
                                        kafka::delivery_batch* batch) noexcept {
  if (plan_->produce_failing()) {
    batch->release(false); // as a delivery report that failed
    return RD_KAFKA_RESP_ERR_NO_ERROR;
  }
  return inner_->send(topic, partition, key, key_size, value, value_size, timestamp, batch);
}

rd_kafka_resp_err_t faulty_output::send_with_headers(
  uint32_t topic, const void* key, size_t key_size, const void* value, size_t value_size,
  const std::vector<std::pair<std::string, std::string>>& headers,
  kafka::delivery_batch* batch) noexcept {
  if (plan_->produce_failing()) {
    batch->release(false);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
  }
  return inner_->send_with_headers(topic, key, key_size, value, value_size, headers, batch);
}

} // namespace mephisto
