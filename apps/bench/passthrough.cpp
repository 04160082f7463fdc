// mephisto-passthrough: the raw librdkafka limit as a process, for benchmarks that compare
// systems process by process (bench/compare.sh): copies the first --count records of
// --from (every partition, from the beginning) to --to, then exits.
//
//   mephisto-passthrough --broker kafka://127.0.0.1:9092 --from input --to raw_output --count N

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "bench_kit.hpp"
#include "mephisto/error.hpp"
#include "mephisto/kafka/admin.hpp"

int main(int argc, char** argv) {
  std::string broker;
  std::string from;
  std::string to;
  size_t count = 0;
  CLI::App cli{"mephisto-passthrough: copy records topic to topic with bare librdkafka"};
  cli.add_option("--broker", broker, "kafka://host:port")->required();
  cli.add_option("--from", from, "source topic")->required();
  cli.add_option("--to", to, "destination topic (must exist)")->required();
  cli.add_option("--count", count, "records to copy")->required();
  CLI11_PARSE(cli, argc, argv);
  auto bootstrap = mephisto::kafka::parse_broker_url(broker);
  if (!bootstrap) {
    std::fprintf(stderr, "error: %s\n", mephisto::render(bootstrap.error()).c_str());
    return 2;
  }
  try {
    auto probe = bench::client(RD_KAFKA_PRODUCER, *bootstrap, {});
    auto topics = mephisto::kafka::list_topics(probe.get(), std::chrono::seconds(15));
    if (!topics)
      throw std::runtime_error(mephisto::render(topics.error()));
    if (!topics->count(from) || !topics->count(to))
      throw std::runtime_error("topics " + from + " and " + to + " must exist");
    auto secs = bench::pass_through(*bootstrap, from, to, count, topics->at(from),
                                    "mephisto-passthrough");
    std::printf("copied %zu records in %.3f s: %.0f msgs/s\n", count, secs, count / secs);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
