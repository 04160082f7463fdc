// A record larger than its topic's max.message.bytes on the real broker, under
// exactly-once: the producer accepts it, the broker would refuse its whole batch. The
// worker reads each topic's limit at start and dead-letters the event when it sends the
// record; every other event is processed, and the 2000 small records to the small topic
// are batched within its limit (oversize_app.hpp).


#include <unistd.h>

#include <caf/all.hpp>

#include "integration/oversize_app.hpp"
#include "integration/real_kafka_worker.hpp"

TEST(real_kafka_oversize, an_output_over_the_topics_max_message_bytes_dead_letters_its_event) {
  auto bootstrap = real_kafka_worker::bootstrap();
  ASSERT_FALSE(bootstrap.empty()) << "NO REAL KAFKA BROKER (see the kafka.start fixture)";
  auto suffix = std::to_string(::getpid());
  oversize::topics t{"sizes-" + suffix, "out-" + suffix};
  testkit::recreate_topic(bootstrap, t.input, 4);
  testkit::recreate_topic(bootstrap, t.out, 4, {{"max.message.bytes", "20000"}});
  ASSERT_EQ(testkit::topic_config(bootstrap, t.out)["max.message.bytes"], "20000");
  auto id = "oversize-" + suffix;
  mephisto::app app{id};
  oversize::declare(app, t);
  auto opts = real_kafka_worker::exactly_once_options(bootstrap);
  caf::actor_system_config cfg;
  ASSERT_FALSE(mephisto::configure(cfg, opts));
  caf::actor_system sys{cfg};
  mephisto::worker w{sys, app, opts};
  ASSERT_FALSE(w.start());
  testkit::produce_keyed(bootstrap, t.input, oversize::events());
  oversize::expect_dead_lettered_and_rest_processed(bootstrap, t, id, w);
  w.stop();
  EXPECT_FALSE(w.wait());
}
