// Table recovery from a changelog on the embedded broker: the last value per key wins,
// tombstones delete, garbage and missing changelogs are clear errors in bounded time.

#include <atomic>
#include <chrono>

#include <gtest/gtest.h>

#include "mephisto/kafka/changelog_restore.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/store.hpp"
#include "support/testkit.hpp"

using namespace std::chrono_literals;
using mephisto::kafka::restore_changelog;
using mephisto::kafka::restore_job;

namespace {

struct table_restore : testing::Test {
  void SetUp() override {
    ASSERT_FALSE(broker.start());
    ASSERT_FALSE(broker.create_topic("log", 1));
  }

  restore_job job(const std::string& topic = "log") {
    restore_job j;
    j.bootstrap = broker.bootstrap();
    j.changelog = topic;
    j.partition = 0;
    j.table = "t";
    j.stall_timeout = 3s;
    return j;
  }

  mephisto::kafka::embedded_broker broker;
};

/// Produces tombstones too: a value of "\x01null" means a null value.
void produce_changelog(const std::string& bootstrap,
                       const std::vector<std::pair<std::string, std::string>>& records) {
  auto conf = rd_kafka_conf_new();
  char err[256];
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  auto rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  for (auto& [k, v] : records) {
    bool null = v == "\x01null";
    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("log"), RD_KAFKA_V_PARTITION(0),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                      RD_KAFKA_V_VALUE(null ? nullptr : const_cast<char*>(v.data()),
                                       null ? 0 : v.size()),
                      RD_KAFKA_V_KEY(k.data(), k.size()), RD_KAFKA_V_END);
  }
  ASSERT_EQ(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

} // namespace

TEST_F(table_restore, an_empty_changelog_restores_nothing) {
  mephisto::memory_store<std::string, int64_t> store;
  auto res = restore_changelog(job(), store);
  ASSERT_TRUE(res) << mephisto::render(res.error());
  EXPECT_EQ(res->records, 0u);
  EXPECT_EQ(store.size(), 0u);
}

TEST_F(table_restore, last_value_wins_and_tombstones_delete) {
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = 1; i <= 5000; ++i)
    records.emplace_back("k" + std::to_string(i % 100), std::to_string(i));
  records.emplace_back("k7", "\x01null");
  produce_changelog(broker.bootstrap(), records);
  mephisto::memory_store<std::string, int64_t> store;
  auto res = restore_changelog(job(), store);
  ASSERT_TRUE(res) << mephisto::render(res.error());
  EXPECT_EQ(res->records, 5001u);
  EXPECT_EQ(res->high_watermark, 5001);
  EXPECT_EQ(store.size(), 99u);
  EXPECT_EQ(store.find("k7"), nullptr);
  ASSERT_NE(store.find("k0"), nullptr);
  EXPECT_EQ(*store.find("k0"), 5000);
  EXPECT_EQ(*store.find("k99"), 4999);
}

TEST_F(table_restore, an_undecodable_record_fails_with_its_offset) {
  produce_changelog(broker.bootstrap(), {{"a", "1"}, {"b", "oops"}, {"c", "3"}});
  mephisto::memory_store<std::string, int64_t> store;
  auto res = restore_changelog(job(), store);
  ASSERT_FALSE(res);
  auto msg = mephisto::render(res.error());
  EXPECT_NE(msg.find("recovery_failed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("offset 1"), std::string::npos) << msg;
}

TEST_F(table_restore, an_unreachable_broker_fails_in_bounded_time) {
  mephisto::memory_store<std::string, int64_t> store;
  auto j = job();
  j.bootstrap = "127.0.0.1:1";
  auto start = std::chrono::steady_clock::now();
  auto res = restore_changelog(j, store);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(res);
  EXPECT_LT(took, 30s);
}

TEST_F(table_restore, cancel_stops_a_restore) {
  std::atomic<bool> cancel{true};
  produce_changelog(broker.bootstrap(), {{"a", "1"}});
  auto j = job();
  j.cancel = &cancel;
  mephisto::memory_store<std::string, int64_t> store;
  auto res = restore_changelog(j, store);
  ASSERT_FALSE(res);
  EXPECT_NE(mephisto::render(res.error()).find("cancelled"), std::string::npos);
}
