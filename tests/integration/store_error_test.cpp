// A RocksDB table partition that turns out untrustworthy while an agent reads it (a stored
// value that does not decode, a data block that fails its checksum) is a store error, not
// the event's: the partition restarts with its store rebuilt from the whole changelog, the
// event runs again, and nothing goes to the dead-letter topic. Real RocksDB, one embedded
// broker that outlives the workers (in this process).

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>

#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/mephisto.hpp"
#include "mephisto/worker.hpp"
#include "support/testkit.hpp"

using namespace std::chrono_literals;

namespace {

constexpr int32_t partitions = 4;
constexpr const char* app_id = "store-errors";

/// Counts events per key into the table `counts` and sends each running count. `careless`:
/// the user function swallows every exception of its table access (and sends nothing then).
std::shared_ptr<const mephisto::topology> counter(const mephisto::worker_options& opts,
                                                  bool careless = false) {
  mephisto::app app{app_id};
  auto events = app.topic<std::string, std::string>("events");
  auto out = app.topic<std::string, std::int64_t>("counts-out");
  auto counts = app.table<std::string, std::int64_t>("counts");
  app.agent(
    "count", events,
    [=](const std::string& key, const std::string&, mephisto::context& ctx) {
      int64_t n = 0;
      try {
        n = ++ctx[counts][key];
      } catch (const std::exception&) {
        if (!careless)
          throw;
        return;
      }
      ctx.send(out, key, n);
    },
    {.tables = {counts}});
  return app.resolve(opts);
}

/// Opens one table partition's database as the worker lays it out (column families
/// default, data, meta), while no worker has it open.
struct partition_db {
  explicit partition_db(const std::string& path) {
    rocksdb::Options opts;
    std::vector<rocksdb::ColumnFamilyDescriptor> families{
      {rocksdb::kDefaultColumnFamilyName, {}}, {"data", {}}, {"meta", {}}};
    auto st = rocksdb::DB::Open(rocksdb::DBOptions{opts}, path, families, &handles, &db);
    EXPECT_TRUE(st.ok()) << path << ": " << st.ToString();
  }
  ~partition_db() {
    if (db == nullptr)
      return;
    for (auto* h : handles)
      db->DestroyColumnFamilyHandle(h);
    db->Close();
    delete db;
  }
  std::optional<std::string> get(const std::string& key) {
    std::string value;
    if (db == nullptr || !db->Get(rocksdb::ReadOptions{}, handles[1], key, &value).ok())
      return std::nullopt;
    return value;
  }
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
};

struct store_errors : testing::Test {
  void SetUp() override {
    opts.web_listen = "off";
    opts.threads = 2;
    opts.commit_interval_ms = 200;
    opts.log_level = "error";
    opts.topic_partitions = partitions;
    opts.store = "rocksdb://" + dir;
    ASSERT_FALSE(broker.start());
    for (auto& spec : counter(opts)->topic_specs(opts.topic_partitions))
      ASSERT_FALSE(broker.create_topic(spec.name, spec.partitions > 0 ? spec.partitions
                                                                       : partitions));
    opts.broker = "kafka://" + broker.bootstrap();
  }

  /// The table as `w` holds it; a value that does not decode reads as -1.
  static std::map<std::string, int64_t> table_of(mephisto::worker& w) {
    std::map<std::string, int64_t> out;
    auto rows = w.table_snapshot("counts", 5s);
    if (!rows)
      return out; // a partition restarting: asked again
    for (auto& [k, v] : *rows) {
      char* end = nullptr;
      auto n = std::strtoll(v.c_str(), &end, 10);
      out[k] = !v.empty() && *end == '\0' ? n : -1;
    }
    return out;
  }

  /// Runs a worker until it processed `feed`, then stops it cleanly (its changes on disk,
  /// its offsets committed).
  void first_run(const testkit::keyed_stream& feed) {
    mephisto::worker w{counter(opts), opts};
    ASSERT_FALSE(w.start());
    testkit::produce_keyed(broker.bootstrap(), "events", feed.events);
    ASSERT_TRUE(testkit::eventually([&] { return table_of(w) == feed.counts; }, 120s));
    w.stop();
    ASSERT_FALSE(w.wait());
  }

  /// The database of the partition that holds `key`.
  std::string path_holding(const std::string& key) {
    for (int32_t p = 0; p < partitions; ++p) {
      auto path = dir + "/" + app_id + "/counts/" + std::to_string(p);
      if (partition_db{path}.get(key))
        return path;
    }
    ADD_FAILURE() << key << " is in no partition's database under " << dir;
    return {};
  }

  /// Starts a worker on the damaged store, feeds one more event for `key` and checks that
  /// the store error restarted the partition, that the table ends at the truth (the
  /// changelog's counts and the new event) and that nothing was dead-lettered.
  void second_run(testkit::keyed_stream feed, const std::string& key, const char* label,
                  bool careless = false) {
    mephisto::worker w{counter(opts, careless), opts};
    ASSERT_FALSE(w.start());
    testkit::produce_keyed(broker.bootstrap(), "events", {{key, "again"}});
    auto truth = feed.counts;
    ++truth[key];
    EXPECT_TRUE(testkit::eventually([&] { return table_of(w) == truth; }, 120s));
    auto& s = w.stats();
    EXPECT_EQ(s.store_errors.load(), 1u);
    EXPECT_EQ(s.restarts.load(), 1);
    EXPECT_EQ(s.failures.load(), 0u);
    EXPECT_EQ(s.retries.load(), 0u);
    EXPECT_EQ(s.dead_letters.load(), 0u);
    EXPECT_EQ(s.decode_errors.load(), 0u);
    auto dead = testkit::consume(broker.bootstrap(), std::string{app_id} + "-dead-letter",
                                 SIZE_MAX, 2s);
    EXPECT_TRUE(dead.empty()) << dead.size() << " dead letters";
    // Both runs' outputs: every key's running counts exactly 1..n, the new one included.
    auto outputs = testkit::consume(broker.bootstrap(), "counts-out", feed.events.size() + 1, 30s);
    auto check = mephisto::testing::check_exactly_once(outputs, truth);
    EXPECT_TRUE(check) << check.message();
    std::printf("[ summary  ] %s: %zu + 1 events, %llu store error, %lld restart, %zu dead "
                "letters, %zu lost, %zu duplicated outputs\n",
                label, feed.events.size(), static_cast<unsigned long long>(s.store_errors.load()),
                static_cast<long long>(s.restarts.load()), dead.size(), check.missing,
                check.duplicates);
    w.stop();
    EXPECT_FALSE(w.wait());
  }

  std::string dir = testkit::temp_dir("store-errors");
  mephisto::worker_options opts;
  mephisto::kafka::embedded_broker broker;
};

} // namespace

TEST_F(store_errors, an_undecodable_stored_value_restarts_the_partition_from_its_changelog) {
  auto feed = testkit::make_keyed_events(400, 20, 11);
  ASSERT_NO_FATAL_FAILURE(first_run(feed));
  auto path = path_holding("k3");
  ASSERT_FALSE(path.empty());
  {
    partition_db db{path};
    ASSERT_EQ(db.get("k3"), std::to_string(feed.counts.at("k3")));
    // An int64 table stores JSON numbers: this is none.
    ASSERT_TRUE(db.db->Put(rocksdb::WriteOptions{}, db.handles[1], "k3", "\x01garbage").ok());
  }
  second_run(feed, "k3", "undecodable stored value");
}

TEST_F(store_errors, a_store_error_the_user_function_swallows_still_restarts_the_partition) {
  auto feed = testkit::make_keyed_events(400, 20, 13);
  ASSERT_NO_FATAL_FAILURE(first_run(feed));
  auto path = path_holding("k8");
  ASSERT_FALSE(path.empty());
  {
    partition_db db{path};
    ASSERT_TRUE(db.db->Put(rocksdb::WriteOptions{}, db.handles[1], "k8", "[1,2]").ok());
  }
  second_run(feed, "k8", "swallowed store error", true);
}

TEST_F(store_errors, a_corrupt_data_block_restarts_the_partition_from_its_changelog) {
  auto feed = testkit::make_keyed_events(400, 20, 12);
  ASSERT_NO_FATAL_FAILURE(first_run(feed));
  auto path = path_holding("k5");
  ASSERT_FALSE(path.empty());
  std::string sst;
  {
    // All of the partition's data in one table file; then damage its first data block
    // (which holds k5: the partition has a few keys, one block). The file's footer, index
    // and properties are intact, so RocksDB opens it and fails only the read.
    partition_db db{path};
    ASSERT_TRUE(db.db->CompactRange(rocksdb::CompactRangeOptions{}, db.handles[1], nullptr,
                                    nullptr).ok());
    std::vector<rocksdb::LiveFileMetaData> files;
    db.db->GetLiveFilesMetaData(&files);
    for (auto& f : files)
      if (f.column_family_name == "data") {
        ASSERT_TRUE(sst.empty()) << "more than one table file";
        sst = f.db_path + f.name;
      }
    ASSERT_FALSE(sst.empty());
  }
  {
    std::fstream f{sst, std::ios::in | std::ios::out | std::ios::binary};
    ASSERT_TRUE(f.good()) << sst;
    f.seekp(8);
    f.write("\xde\xad\xbe\xef\xde\xad\xbe\xef", 8);
    ASSERT_TRUE(f.good());
  }
  {
    // The damage is one RocksDB reports as such (a fresh handle: no block cached).
    partition_db db{path};
    std::string value;
    auto st = db.db->Get(rocksdb::ReadOptions{}, db.handles[1], "k5", &value);
    ASSERT_TRUE(st.IsCorruption()) << st.ToString();
  }
  second_run(feed, "k5", "corrupt data block");
}
