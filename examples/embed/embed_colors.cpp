// Placeholder replaced in the next step.
#include <cstdio>
#include <mephisto/mephisto.hpp>
#include <mephisto/worker.hpp>

#ifdef RD_KAFKA_VERSION
#error "mephisto/mephisto.hpp exposes librdkafka's header"
#endif
#ifdef ROCKSDB_MAJOR
#error "mephisto/mephisto.hpp exposes RocksDB's headers"
#endif

int main() {
  mephisto::app app{"embed"};
  auto input = app.topic<std::string>("input");
  app.agent("noop", input, [](const std::string&, mephisto::context&) {});
  mephisto::worker_options opts;
  opts.broker = "embedded";
  opts.cluster_listen = "off";
  mephisto::worker w{app.resolve(opts), opts};
  if (auto err = w.start()) {
    std::fprintf(stderr, "%s\n", mephisto::render(err).c_str());
    return 1;
  }
  w.stop();
  return w.wait() ? 1 : 0;
}
