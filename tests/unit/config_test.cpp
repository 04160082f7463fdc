#include "mephisto/kafka/config.hpp"

#include <gtest/gtest.h>

using mephisto::kafka::parse_broker_url;

TEST(broker_url, kafka_urls_become_bootstrap_lists) {
  EXPECT_EQ(*parse_broker_url("kafka://localhost:9092"), "localhost:9092");
  EXPECT_EQ(*parse_broker_url("kafka://a:1,b:2"), "a:1,b:2");
  EXPECT_EQ(*parse_broker_url("kafka://a:1,kafka://b:2"), "a:1,b:2");
}

TEST(broker_url, bad_urls_are_clear_errors) {
  for (auto url : {"localhost:9092", "http://a:1", "kafka://", "kafka://host", "kafka://h:x",
                   "kafka://h:0", "kafka://h:70000", "kafka://a:1,"}) {
    auto r = parse_broker_url(url);
    ASSERT_FALSE(r) << url;
    EXPECT_NE(mephisto::render(r.error()).find("bad_broker_url"), std::string::npos);
    EXPECT_NE(mephisto::render(r.error()).find(url), std::string::npos);
  }
}

TEST(kafka_conf, unknown_librdkafka_settings_are_errors) {
  auto c = mephisto::kafka::make_conf({{"no.such.setting", "1"}});
  ASSERT_FALSE(c);
  EXPECT_NE(mephisto::render(c.error()).find("no.such.setting"), std::string::npos);
}
