// mephisto-broker: a standalone embedded Kafka broker (librdkafka's mock cluster) for
// demos and tests in which several processes share one broker.
//
//   mephisto-broker --topic input:8 --topic colors-colors_topic:8 --bootstrap-file bs.txt
//
// Prints its URL (kafka://127.0.0.1:PORT) on stdout and in --bootstrap-file, then runs
// until SIGINT/SIGTERM. The mock cannot create topics on request (no CreateTopics), so
// every topic the clients need is named here; apps can instead run `<app> broker`, which
// creates exactly that app's topics.

#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "mephisto/error.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/log.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> topics;
  std::string bootstrap_file;
  int brokers = 1;
  CLI::App cli{"mephisto-broker: an embedded Kafka broker (librdkafka mock) on loopback"};
  cli.add_option("--topic,-t", topics, "NAME:PARTITIONS, repeatable");
  cli.add_option("--bootstrap-file", bootstrap_file, "write kafka://host:port here when up");
  cli.add_option("--brokers", brokers, "number of mock brokers")->check(CLI::Range(1, 9));
  CLI11_PARSE(cli, argc, argv);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  mephisto::kafka::embedded_broker broker;
  if (auto err = broker.start(brokers)) {
    std::cerr << "error: " << mephisto::render(err) << '\n';
    return 1;
  }
  for (auto& spec : topics) {
    auto colon = spec.rfind(':');
    int partitions = 0;
    try {
      partitions = colon == std::string::npos ? 0 : std::stoi(spec.substr(colon + 1));
    } catch (const std::exception&) {
      partitions = 0;
    }
    if (partitions < 1) {
      std::cerr << "error: --topic " << spec << ": expected NAME:PARTITIONS\n";
      return 2;
    }
    if (auto err = broker.create_topic(spec.substr(0, colon), partitions)) {
      std::cerr << "error: " << mephisto::render(err) << '\n';
      return 1;
    }
  }
  if (!bootstrap_file.empty())
    broker.publish_url(bootstrap_file);
  std::cout << broker.url() << std::endl;
  int sig = 0;
  sigwait(&set, &sig);
  mephisto::log().info("mephisto-broker stopping");
  return 0;
}
