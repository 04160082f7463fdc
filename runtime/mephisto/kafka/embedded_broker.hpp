#pragma once

#include <cstdint>
#include <string>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "mephisto/error.hpp"
#include "mephisto/kafka/config.hpp"

namespace mephisto::kafka {

/// librdkafka's mock cluster, started in this process: a real Kafka-protocol server on
/// loopback that kcat, other processes and our own clients reach through `bootstrap()`.
///
/// Limits (see DESIGN.md): no compaction, no CreateTopics (use `create_topic`), no
/// transactional isolation, only a few MiB kept per partition, slow rebalances. Good for
/// the demo and functional tests, not for volume.
///
/// Owned by whoever starts it; the cluster runs on librdkafka's own threads. `create_topic`
/// may be called from any thread.
class embedded_broker {
public:
  embedded_broker() = default;
  embedded_broker(const embedded_broker&) = delete;
  embedded_broker& operator=(const embedded_broker&) = delete;
  ~embedded_broker();

  /// Starts a cluster of `brokers` brokers.
  caf::error start(int brokers = 1);

  /// Creates `name` with `partitions` partitions (replication factor 1).
  caf::error create_topic(const std::string& name, int32_t partitions);

  /// "127.0.0.1:port[,...]" as librdkafka wants it.
  const std::string& bootstrap() const noexcept { return bootstrap_; }

  /// "kafka://127.0.0.1:port" as Mephisto's `--broker` wants it.
  std::string url() const { return "kafka://" + bootstrap_; }

  /// Makes every broker of the cluster unreachable (false: connections are closed and new
  /// ones refused, as a broker that went away) or reachable again (true). Fault injection
  /// for outage tests; any thread.
  caf::error set_reachable(bool reachable);

  /// The mock cluster, for fault injection (`rd_kafka_mock_broker_set_down`, ...).
  rd_kafka_mock_cluster_t* mock() const noexcept { return cluster_; }

  /// Writes `url()` and a newline to `path` atomically (write, then rename), for other
  /// processes that wait for the broker.
  void publish_url(const std::string& path) const;

private:
  handle_ptr handle_;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  int brokers_ = 0;
  std::string bootstrap_;
};

} // namespace mephisto::kafka
