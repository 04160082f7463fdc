// A one-hop Mephisto app for the latency benchmark (bench/latency.py, system `relay`):
// every record of `input` goes to `latency_relay_output` with its key, value and
// timestamp. It does what mephisto-passthrough does with bare librdkafka, so the two
// compare the cost of one hop through Mephisto (source, agent, producer, commit).
//
//   mephisto-relay worker --broker kafka://host:port

#include <mephisto/mephisto.hpp>

int main(int argc, char** argv) {
  mephisto::app app{"relay"};
  auto input = app.topic<std::string>("input");
  auto output = app.topic<std::string>("latency_relay_output");
  app.agent("relay", input,
            [=](const std::string& key, const std::string& value, mephisto::context& ctx) {
              ctx.send(output, key, value);
            });
  return app.main(argc, argv);
}
