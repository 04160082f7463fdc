#include "mephisto/kafka/config.hpp"

#include <map>
#include <string>

#include <gtest/gtest.h>

using mephisto::kafka::parse_broker_url;
using mephisto::kafka::with_client_properties;

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

namespace {

using mephisto::kafka::client_kind;
using props = std::map<std::string, std::string>;

std::string check(const props& p) {
  return mephisto::render(mephisto::kafka::check_client_properties(p));
}

} // namespace

TEST(client_properties, reach_the_clients_of_their_kind_narrowest_last) {
  props p{{"kafka.socket.timeout.ms", "1000"},
          {"consumer.fetch.max.bytes", "1048576"},
          {"producer.socket.timeout.ms", "2000"}};
  using settings = mephisto::kafka::settings;
  settings base{{"bootstrap.servers", "b:1"}};
  EXPECT_EQ(with_client_properties(base, p, client_kind::consumer),
            (settings{{"bootstrap.servers", "b:1"},
                      {"socket.timeout.ms", "1000"},
                      {"fetch.max.bytes", "1048576"}}));
  EXPECT_EQ(with_client_properties(base, p, client_kind::producer),
            (settings{{"bootstrap.servers", "b:1"},
                      {"socket.timeout.ms", "1000"},
                      {"socket.timeout.ms", "2000"}})); // applied in order: producer's wins
  EXPECT_EQ(with_client_properties(base, p, client_kind::admin),
            (settings{{"bootstrap.servers", "b:1"}, {"socket.timeout.ms", "1000"}}));
}

TEST(client_properties, valid_ones_pass_the_check) {
  EXPECT_EQ(check({{"kafka.security.protocol", "SASL_SSL"},
                   {"kafka.sasl.mechanism", "SCRAM-SHA-512"},
                   {"kafka.sasl.password", "x"},
                   {"consumer.fetch.max.bytes", "1048576"}}),
            "no error");
}

TEST(client_properties, unknown_owned_unprefixed_and_bad_values_are_errors_naming_them) {
  auto unknown = check({{"kafka.no.such.property", "1"}});
  EXPECT_NE(unknown.find("kafka.no.such.property"), std::string::npos) << unknown;
  auto owned = check({{"consumer.enable.auto.commit", "true"}});
  EXPECT_NE(owned.find("set by Mephisto"), std::string::npos) << owned;
  auto unprefixed = check({{"security.protocol", "SSL"}});
  EXPECT_NE(unprefixed.find("kafka.<property>"), std::string::npos) << unprefixed;
  auto bad = check({{"kafka.security.protocol", "CARRIER_PIGEON"}});
  EXPECT_NE(bad.find("CARRIER_PIGEON"), std::string::npos) << bad;
}

TEST(client_properties, secret_values_never_appear_in_errors) {
  EXPECT_TRUE(mephisto::kafka::is_secret_property("sasl.password"));
  EXPECT_TRUE(mephisto::kafka::is_secret_property("ssl.key.password"));
  EXPECT_TRUE(mephisto::kafka::is_secret_property("sasl.jaas.config"));
  EXPECT_FALSE(mephisto::kafka::is_secret_property("security.protocol"));
  // librdkafka refuses this one (it is not a property), yet its value must stay hidden.
  auto err = check({{"kafka.sasl.passwords", "hunter2"}});
  EXPECT_NE(err.find("kafka.sasl.passwords"), std::string::npos) << err;
  EXPECT_EQ(err.find("hunter2"), std::string::npos) << err;
  auto conf = mephisto::kafka::make_conf({{"ssl.key.passwordz", "hunter2"}});
  ASSERT_FALSE(conf);
  EXPECT_EQ(mephisto::render(conf.error()).find("hunter2"), std::string::npos);
}
