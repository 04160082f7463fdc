// A table's restore on a real Apache Kafka broker where the mock broker cannot go: a
// changelog whose first records were deleted (DeleteRecords, as retention does).

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include "integration/real_kafka.hpp"
#include "mephisto/kafka/changelog_restore.hpp"
#include "mephisto/store.hpp"

using namespace kafka_suite;

namespace {

/// Deletes the records of `topic` [0] below `before`: its low watermark becomes `before`.
void delete_records_before(const std::string& bootstrap, const std::string& topic,
                           int64_t before) {
  char err[256];
  auto* conf = rd_kafka_conf_new();
  ASSERT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err),
            RD_KAFKA_CONF_OK);
  auto* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  ASSERT_NE(rk, nullptr) << err;
  auto* offsets = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(offsets, topic.c_str(), 0)->offset = before;
  auto* request = rd_kafka_DeleteRecords_new(offsets);
  rd_kafka_topic_partition_list_destroy(offsets);
  auto* queue = rd_kafka_queue_new(rk);
  rd_kafka_DeleteRecords(rk, &request, 1, nullptr, queue);
  rd_kafka_DeleteRecords_destroy(request);
  auto* ev = rd_kafka_queue_poll(queue, 30000);
  ASSERT_NE(ev, nullptr) << "no DeleteRecords result within 30 s";
  EXPECT_EQ(rd_kafka_event_error(ev), RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_event_error_string(ev);
  auto* result = rd_kafka_event_DeleteRecords_result(ev);
  ASSERT_NE(result, nullptr);
  auto* parts = rd_kafka_DeleteRecords_result_offsets(result);
  ASSERT_EQ(parts->cnt, 1);
  EXPECT_EQ(parts->elems[0].err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(parts->elems[0].err);
  rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(queue);
  rd_kafka_destroy(rk);
}

} // namespace

// The restore starts at the changelog's first record (the low watermark it asked for), not
// "from the beginning": that costs librdkafka an offset lookup and half a second.
TEST(real_kafka_restore, a_changelog_whose_first_records_were_deleted_restores_from_its_first) {
  std::string bootstrap;
  std::ifstream{kafka_dir() + "/bootstrap"} >> bootstrap;
  ASSERT_FALSE(bootstrap.empty()) << "NO REAL KAFKA BROKER (see the kafka.start fixture)";
  const std::string topic = "trimmed-changelog-" + std::to_string(::getpid());
  testkit::recreate_topic(bootstrap, topic, 1);
  // 1000 records over 100 keys: key k<i % 100> counted up to i.
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = 0; i < 1000; ++i)
    records.emplace_back("k" + std::to_string(i % 100), std::to_string(i));
  testkit::produce_keyed(bootstrap, topic, records); // one partition: all to [0]
  delete_records_before(bootstrap, topic, 450);
  ASSERT_FALSE(HasFailure());
  mephisto::kafka::restore_job job;
  job.bootstrap = bootstrap;
  job.changelog = topic;
  job.partition = 0;
  job.table = "t";
  mephisto::memory_store<std::string, int64_t> store;
  auto res = mephisto::kafka::restore_changelog(job, store);
  ASSERT_TRUE(res) << mephisto::render(res.error());
  EXPECT_EQ(res->records, 550u);
  EXPECT_EQ(res->high_watermark, 1000);
  EXPECT_EQ(store.size(), 100u);
  int wrong = 0;
  for (int k = 0; k < 100; ++k) {
    auto* v = store.find("k" + std::to_string(k));
    if (v == nullptr || *v != 900 + k)
      ++wrong;
  }
  EXPECT_EQ(wrong, 0);
}
