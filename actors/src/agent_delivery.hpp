#pragma once

#include <cstdint>
#include <vector>

#include "mephisto/actors/protocols.hpp"
#include "mephisto/kafka/producer.hpp"

namespace mephisto {

/// Reports the completion of one batch's deliveries to its agent, with the next offset
/// of each durable table's changelog partition after the batch's records (-1: none).
/// The agent creates it per batch; librdkafka's delivery report thread fills it in and
/// completes it; `delivery_batch`'s count and guard decide when (see producer.hpp).
class agent_delivery final : public kafka::delivery_batch {
public:
  agent_delivery(agent_actor agent, uint64_t seq, bool outputs_only, int32_t partition,
                 std::vector<const char*> changelogs)
    : agent_(std::move(agent)),
      seq_(seq),
      outputs_only_(outputs_only),
      partition_(partition),
      changelogs_(std::move(changelogs)),
      next_offsets_(changelogs_.size(), -1) {
  }

  /// On librdkafka's delivery report thread: notes a changelog record's offset.
  void on_record(const char* topic, int32_t partition, int64_t offset) noexcept override;

protected:
  /// On librdkafka's delivery report thread, once: tells the agent.
  void on_complete(bool ok) noexcept override;

private:
  agent_actor agent_;
  uint64_t seq_;
  bool outputs_only_;  ///< the first phase of an at-least-once batch with table changes
  int32_t partition_;
  std::vector<const char*> changelogs_;  ///< per lease; null: the batch wrote no durable change
  std::vector<int64_t> next_offsets_;
};

} // namespace mephisto
