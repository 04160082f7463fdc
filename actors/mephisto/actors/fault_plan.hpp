#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "mephisto/error.hpp"
#include "mephisto/kafka/record_sink.hpp"

namespace mephisto {

/// Faults a crash-recovery test asks a worker to inject (option `inject_faults`, which
/// mephisto::testing's harness sets; empty in production). Parsed once at start, then
/// read by the agents (each failure fires once per process, by an atomic flag) and by the
/// faulty output. Semicolon-separated:
///
///   fail@TOPIC/PARTITION/OFFSET    the agent stops at the batch holding OFFSET as if its
///                                  function threw `restart_partition`
///   crash@TOPIC/PARTITION/OFFSET   the same batch ends in an exception that escapes the
///                                  agent's handler (a hard actor failure)
///   slow@TOPIC/PARTITION/MS        the agent returns each batch's credit MS late
///   produce-fail@FROM_MS-TO_MS     every record produced in that window after start
///                                  fails its delivery
///   cut-links@FILE                 the cluster links to the peers FILE lists (cluster
///                                  addresses host:port, one per line; reread every
///                                  heartbeat, a missing file lists none) are cut: their
///                                  messages are dropped and none are sent to them
///
/// TOPIC is the declared or the Kafka name.
struct fault_plan {
  struct failure {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = 0;
    bool crash = false;
    std::atomic<bool> fired{false};
    std::string describe() const;
  };

  struct slowdown {
    std::string topic;
    int32_t partition = 0;
    std::chrono::milliseconds delay{0};
  };

  std::vector<std::unique_ptr<failure>> failures;
  std::vector<slowdown> slow;
  std::chrono::milliseconds produce_fail_from{-1};
  std::chrono::milliseconds produce_fail_to{-1};
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::string links_file; ///< cut-links@: empty when none

  /// The peers whose links are cut now (what `links_file` lists; read from disk: for the
  /// cluster actor's heartbeat, not per message).
  std::set<std::string> cut_links() const;

  /// Null for an empty text; `bad_config` naming the part it cannot read.
  static expected<std::shared_ptr<fault_plan>> parse(const std::string& text);

  /// The failure to inject into a batch of `topic` (either name) / `partition` holding
  /// offsets [first, next), marked fired; null when none.
  failure* take_failure(const std::string& name, const std::string& kafka_name,
                        int32_t partition, int64_t first, int64_t next);

  /// How late a batch's credit goes back (0: at once).
  std::chrono::milliseconds delay_of(const std::string& name, const std::string& kafka_name,
                                     int32_t partition) const;

  /// True inside the produce-fail window.
  bool produce_failing() const;
};

/// The worker's output with the plan's produce failures: inside the window each record's
/// delivery fails at once (nothing reaches Kafka), outside it records go to `inner`.
class faulty_output final : public kafka::record_sink {
public:
  faulty_output(kafka::record_sink* inner, std::shared_ptr<const fault_plan> plan)
    : inner_(inner), plan_(std::move(plan)) {}

  rd_kafka_resp_err_t send(uint32_t topic, int32_t partition, const void* key,
                           size_t key_size, const void* value, size_t value_size,
                           int64_t timestamp, kafka::delivery_batch* batch) noexcept override;

  rd_kafka_resp_err_t
  send_with_headers(uint32_t topic, const void* key, size_t key_size, const void* value,
                    size_t value_size,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    kafka::delivery_batch* batch) noexcept override;

private:
  kafka::record_sink* inner_;
  std::shared_ptr<const fault_plan> plan_;
};

} // namespace mephisto
