// Table recovery from a changelog on the embedded broker: the last value per key wins,
// tombstones delete, garbage and missing changelogs are clear errors in bounded time.

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "mephisto/kafka/changelog_restore.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/rocksdb_store.hpp"
#include "mephisto/store.hpp"
#include "support/testkit.hpp"

using namespace std::chrono_literals;
using mephisto::kafka::restore_changelog;
using mephisto::kafka::restore_job;

namespace {

struct table_restore : ::testing::Test {
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

namespace {

/// A table slower to restore than the broker is to fetch: a pause every 100 records.
struct slow_store final : mephisto::store_base {
  bool restore(std::string_view key, std::optional<std::string_view> value,
               std::string& why) override {
    if (++restored % 100 == 0)
      std::this_thread::sleep_for(2ms);
    return inner.restore(key, value, why);
  }
  void take_changes(mephisto::send_buffer& out, uint32_t changelog,
                    int32_t partition) override {
    inner.take_changes(out, changelog, partition);
  }
  size_t size() const override { return inner.size(); }
  bool lookup(std::string_view key, std::string& value, std::string& why) override {
    return inner.lookup(key, value, why);
  }
  void snapshot(std::vector<std::pair<std::string, std::string>>& out) const override {
    inner.snapshot(out);
  }
  mephisto::memory_store<std::string, int64_t> inner;
  uint64_t restored = 0;
};

} // namespace

// librdkafka 2.0 stops fetching while its queue holds queued.min.messages and looks again
// only a second later unless woken: here, with small fetches, a restore would wait ~20 s.
TEST_F(table_restore, a_reader_slower_than_the_fetches_wakes_them_and_gets_everything) {
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = 0; i < 20000; ++i)
    records.emplace_back("k" + std::to_string(i), std::to_string(i));
  produce_changelog(broker.bootstrap(), records);
  auto j = job();
  j.client_settings = {{"queued.min.messages", "1000"}, {"max.partition.fetch.bytes", "8000"}};
  slow_store store;
  auto res = restore_changelog(j, store);
  ASSERT_TRUE(res) << mephisto::render(res.error());
  EXPECT_EQ(res->records, 20000u);
  EXPECT_EQ(store.size(), 20000u);
  EXPECT_GT(res->fetcher_wakes, 0u);
}

// -- RocksDB stores: resume from the stored offset, discard what cannot be trusted --------

namespace {

using rocks_counts = mephisto::rocksdb_store<std::string, int64_t>;

struct rocksdb_restore : table_restore {
  std::shared_ptr<rocks_counts> open_store(const std::string& table = "t",
                                           size_t cache_keys = 100000) {
    mephisto::store_place place{&env, table, 0, cache_keys};
    auto store = std::make_shared<rocks_counts>(place);
    why.clear();
    auto err = store->open(why);
    EXPECT_FALSE(err) << mephisto::render(err);
    return store;
  }

  std::string dir = testkit::temp_dir("rocksdb-restore");
  mephisto::rocksdb_env env{dir, 8 << 20, 8 << 20};
  std::string why;
};

std::vector<std::pair<std::string, std::string>> counts_log(int from, int to) {
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = from; i <= to; ++i)
    records.emplace_back("k" + std::to_string(i % 100), std::to_string(i));
  return records;
}

} // namespace

TEST_F(rocksdb_restore, a_restart_reads_only_what_was_written_after_the_stored_offset) {
  produce_changelog(broker.bootstrap(), counts_log(1, 5000));
  {
    auto store = open_store();
    EXPECT_EQ(why, "local store missing");
    EXPECT_EQ(store->restored_offset(), 0);
    auto res = restore_changelog(job(), *store);
    ASSERT_TRUE(res) << mephisto::render(res.error());
    EXPECT_EQ(res->records, 5000u);
    EXPECT_EQ(store->restored_offset(), 5000);
    EXPECT_EQ(store->size(), 100u);
  }
  produce_changelog(broker.bootstrap(), counts_log(5001, 5300));
  produce_changelog(broker.bootstrap(), {{"k7", "\x01null"}});
  auto store = open_store();
  EXPECT_EQ(why, "");
  EXPECT_EQ(store->restored_offset(), 5000);
  auto res = restore_changelog(job(), *store);
  ASSERT_TRUE(res) << mephisto::render(res.error());
  EXPECT_EQ(res->start, 5000);
  EXPECT_EQ(res->records, 301u); // only the new records
  EXPECT_EQ(store->restored_offset(), 5301);
  EXPECT_EQ(store->size(), 99u);
  EXPECT_EQ(store->find("k7"), nullptr);
  ASSERT_NE(store->find("k0"), nullptr);
  EXPECT_EQ(*store->find("k0"), 5300);
  EXPECT_EQ(*store->find("k99"), 5299);
}

TEST_F(rocksdb_restore, a_store_ahead_of_its_changelog_is_discarded_and_rebuilt) {
  produce_changelog(broker.bootstrap(), counts_log(1, 1000));
  {
    auto store = open_store();
    ASSERT_TRUE(restore_changelog(job(), *store));
    EXPECT_EQ(store->restored_offset(), 1000);
  }
  // The changelog is recreated (shorter); the store must not serve its old values.
  ASSERT_FALSE(broker.create_topic("log-new", 1));
  auto conf_records = std::vector<std::pair<std::string, std::string>>{{"k1", "7"}};
  {
    auto conf = rd_kafka_conf_new();
    char err[256];
    rd_kafka_conf_set(conf, "bootstrap.servers", broker.bootstrap().c_str(), err, sizeof err);
    auto rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("log-new"), RD_KAFKA_V_PARTITION(0),
                      RD_KAFKA_V_VALUE(const_cast<char*>("7"), 1),
                      RD_KAFKA_V_KEY("k1", 2), RD_KAFKA_V_END);
    ASSERT_EQ(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
  }
  auto store = open_store();
  auto res = restore_changelog(job("log-new"), *store);
  ASSERT_TRUE(res) << mephisto::render(res.error());
  EXPECT_NE(res->discarded.find("ahead of the changelog"), std::string::npos) << res->discarded;
  EXPECT_EQ(res->records, 1u);
  EXPECT_EQ(store->size(), 1u);
  ASSERT_NE(store->find("k1"), nullptr);
  EXPECT_EQ(*store->find("k1"), 7);
  EXPECT_EQ(store->find("k2"), nullptr);
}

TEST_F(rocksdb_restore, a_corrupt_store_is_discarded_and_rebuilt) {
  produce_changelog(broker.bootstrap(), counts_log(1, 1000));
  {
    auto store = open_store();
    ASSERT_TRUE(restore_changelog(job(), *store));
  }
  // Garbage over the MANIFEST the CURRENT file names.
  std::string current;
  std::ifstream{dir + "/t/0/CURRENT"} >> current;
  ASSERT_FALSE(current.empty());
  std::ofstream{dir + "/t/0/" + current, std::ios::trunc} << "not a manifest";
  auto store = open_store();
  EXPECT_NE(why.find("local store discarded"), std::string::npos) << why;
  EXPECT_EQ(store->restored_offset(), 0);
  auto res = restore_changelog(job(), *store);
  ASSERT_TRUE(res) << mephisto::render(res.error());
  EXPECT_EQ(res->records, 1000u);
  EXPECT_EQ(*store->find("k0"), 1000);
}

TEST_F(rocksdb_restore, changes_reach_disk_only_when_their_batch_is_confirmed) {
  auto store = open_store("w", 2); // a tiny cache: pending changes must still not be evicted
  mephisto::send_buffer out;
  for (int round = 1; round <= 3; ++round) {
    for (int k = 0; k < 10; ++k)
      store->at("k" + std::to_string(k)) += round;
    out.clear();
    store->take_changes(out, 0, 0);
    EXPECT_EQ(out.size(), 10u);
    auto write = store->seal();
    ASSERT_NE(write, nullptr);
    if (round < 3) {
      ASSERT_FALSE(write->apply(round * 10)); // "delivered": changelog offset after it
    }
    // Round 3 is never confirmed (its records were not delivered): not on disk.
  }
  EXPECT_EQ(*store->find("k3"), 6); // the cache still has the unconfirmed value
  store.reset();
  auto again = open_store("w");
  EXPECT_EQ(again->restored_offset(), 20);
  ASSERT_NE(again->find("k3"), nullptr);
  EXPECT_EQ(*again->find("k3"), 3); // rounds 1 and 2 only
  EXPECT_EQ(again->size(), 10u);
  EXPECT_TRUE(again->erase("k3"));
  out.clear();
  again->take_changes(out, 0, 0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].has_value); // a tombstone
  ASSERT_FALSE(again->seal()->apply(21));
  EXPECT_EQ(again->size(), 9u);
}

TEST_F(rocksdb_restore, undo_event_restores_cached_entries) {
  auto store = open_store("u");
  store->at("a") = 1;
  mephisto::send_buffer out;
  store->take_changes(out, 0, 0);
  ASSERT_FALSE(store->seal()->apply(1));
  out.clear();
  store->begin_event();
  store->at("a") += 5;
  store->at("b") = 2;
  EXPECT_TRUE(store->erase("a"));
  store->undo_event();
  EXPECT_EQ(*store->find("a"), 1);
  EXPECT_EQ(store->find("b"), nullptr);
  store->take_changes(out, 0, 0);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(store->seal(), nullptr);
}
