#include "mephisto/kafka/embedded_broker.hpp"

#include <cstdio>
#include <fstream>

namespace mephisto::kafka {

embedded_broker::~embedded_broker() {
  if (cluster_ != nullptr)
    rd_kafka_mock_cluster_destroy(cluster_);
}

caf::error embedded_broker::start(int brokers) {
  auto conf = make_conf({{"client.id", "mephisto-embedded-broker"}, {"log_level", "3"}});
  if (!conf)
    return conf.error();
  auto rk = make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!rk)
    return rk.error();
  handle_ = std::move(*rk);
  cluster_ = rd_kafka_mock_cluster_new(handle_.get(), brokers);
  if (cluster_ == nullptr)
    return make_error(errc::kafka_error, "cannot start the embedded (mock) Kafka cluster");
  bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
  brokers_ = brokers;
  return caf::none;
}

caf::error embedded_broker::set_reachable(bool reachable) {
  for (int id = 1; id <= brokers_; ++id) {
    auto err = reachable ? rd_kafka_mock_broker_set_up(cluster_, id)
                         : rd_kafka_mock_broker_set_down(cluster_, id);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return make_error(errc::kafka_error, "embedded broker: cannot set broker "
                                             + std::to_string(id)
                                             + (reachable ? " up: " : " down: ")
                                             + rd_kafka_err2str(err));
  }
  return caf::none;
}

caf::error embedded_broker::create_topic(const std::string& name, int32_t partitions) {
  auto err = rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return make_error(errc::topic_creation_failed,
                      "embedded broker: topic " + name + ": " + rd_kafka_err2str(err));
  return caf::none;
}

void embedded_broker::publish_url(const std::string& path) const {
  auto tmp = path + ".tmp";
  std::ofstream{tmp} << url() << '\n';
  std::rename(tmp.c_str(), path.c_str());
}

} // namespace mephisto::kafka
