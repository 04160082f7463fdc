// A record larger than the producer's message.max.bytes, on the embedded broker: the event
// that sent it goes to the dead-letter topic with the reason, its other outputs and table
// changes are dropped, and everything else is processed (oversize_app.hpp).

#include "integration/oversize_app.hpp"

TEST(oversize_embedded, an_output_over_message_max_bytes_dead_letters_its_event) {
  mephisto::app app{"oversize"};
  oversize::topics t{"sizes", "out"};
  oversize::declare(app, t);
  mephisto::worker_options opts;
  opts.broker = "embedded";
  opts.web_listen = "off";
  opts.threads = 2;
  opts.commit_interval_ms = 200;
  opts.topic_partitions = 4;
  opts.log_level = "warn";
  // librdkafka would refuse a larger record in produce (MSG_SIZE_TOO_LARGE).
  opts.client_properties["producer.message.max.bytes"] = "20000";
  mephisto::worker w{app.resolve(opts), opts};
  ASSERT_FALSE(w.start());
  testkit::produce_keyed(w.bootstrap(), t.input, oversize::events());
  oversize::expect_dead_lettered_and_rest_processed(w.bootstrap(), t, "oversize", w);
  w.stop();
  EXPECT_FALSE(w.wait());
}
