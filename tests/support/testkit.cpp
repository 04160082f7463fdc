#include "testkit.hpp"

#include <algorithm>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include "mephisto/detail/kafka_client.hpp"
#include "mephisto/testing.hpp"

namespace testkit {

using mephisto::testing::detail::make_client;

void produce_keyed(const std::string& bootstrap, const std::string& topic,
                   const std::vector<std::pair<std::string, std::string>>& records) {
  std::vector<mephisto::testing::input_record> keyed;
  keyed.reserve(records.size());
  for (auto& [k, v] : records)
    keyed.emplace_back(k, v);
  mephisto::testing::produce(bootstrap, topic, keyed);
}

void produce(const std::string& bootstrap, const std::string& topic,
             const std::vector<std::string>& values, std::chrono::milliseconds timeout) {
  std::vector<mephisto::testing::input_record> records;
  records.reserve(values.size());
  for (auto& v : values)
    records.emplace_back(std::nullopt, v);
  mephisto::testing::produce(bootstrap, topic, records, timeout);
}

int64_t end_offsets_total(const std::string& bootstrap, const std::string& topic,
                          isolation level, std::chrono::milliseconds timeout) {
  auto rk = make_client(RD_KAFKA_CONSUMER, bootstrap,
                        {{"group.id", "testkit-reader"},
                         {"isolation.level", level == isolation::read_committed
                                               ? "read_committed" : "read_uncommitted"}});
  int64_t total = 0;
  const rd_kafka_metadata_t* md = nullptr;
  auto rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  auto err = rd_kafka_metadata(rk, 0, rkt, &md, static_cast<int>(timeout.count()));
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1
      || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR)
    total = -1;
  for (int p = 0; total >= 0 && p < md->topics[0].partition_cnt; ++p) {
    int64_t low = 0, high = 0;
    if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high,
                                         static_cast<int>(timeout.count()))
        != RD_KAFKA_RESP_ERR_NO_ERROR)
      total = -1;
    else
      total += high;
  }
  if (md != nullptr)
    rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(rk);
  return total;
}

std::map<std::string, std::string> replay(const std::vector<record>& changelog) {
  // A key lives on one partition: in (partition, offset) order its last record wins.
  std::vector<const record*> rs;
  for (auto& r : changelog)
    rs.push_back(&r);
  std::sort(rs.begin(), rs.end(), [](auto* a, auto* b) {
    return std::tie(a->partition, a->offset) < std::tie(b->partition, b->offset);
  });
  std::map<std::string, std::string> table;
  for (auto* r : rs)
    if (r->has_value)
      table[r->key] = r->value;
    else
      table.erase(r->key);
  return table;
}

namespace {

/// Runs one admin request on `rk` and returns its result event (or null on timeout).
rd_kafka_event_t* admin_wait(rd_kafka_queue_t* q) {
  return rd_kafka_queue_poll(q, 30000);
}

} // namespace

int64_t records_in_open_transactions(const std::string& bootstrap, const std::string& topic,
                                     const std::set<int32_t>& partitions) {
  // A read_committed client's end offset is the last stable offset. The high watermarks
  // come first: what is below them and still unstable after is in an open transaction.
  auto end_offsets = [&](const char* isolation) {
    std::map<int32_t, int64_t> ends;
    auto rk = make_client(RD_KAFKA_CONSUMER, bootstrap,
                          {{"group.id", "testkit-reader"}, {"isolation.level", isolation}});
    for (auto p : partitions) {
      int64_t low = 0, high = 0;
      auto err = rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 10000);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        ADD_FAILURE() << "end offset of " << topic << " [" << p << "]: " << rd_kafka_err2str(err);
      ends[p] = high;
    }
    rd_kafka_destroy(rk);
    return ends;
  };
  auto high = end_offsets("read_uncommitted");
  auto stable = end_offsets("read_committed");
  int64_t open = 0;
  for (auto p : partitions)
    open += std::max<int64_t>(0, high[p] - stable[p]);
  return open;
}

std::map<std::string, std::string> topic_config(const std::string& bootstrap,
                                                const std::string& topic) {
  std::map<std::string, std::string> out;
  auto rk = make_client(RD_KAFKA_PRODUCER, bootstrap);
  auto q = rd_kafka_queue_new(rk);
  auto res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_DescribeConfigs(rk, &res, 1, nullptr, q);
  rd_kafka_ConfigResource_destroy(res);
  if (auto ev = admin_wait(q)) {
    size_t n = 0;
    auto rs = rd_kafka_DescribeConfigs_result_resources(
      rd_kafka_event_DescribeConfigs_result(ev), &n);
    for (size_t i = 0; i < n; ++i) {
      size_t m = 0;
      auto entries = rd_kafka_ConfigResource_configs(rs[i], &m);
      for (size_t j = 0; j < m; ++j) {
        auto v = rd_kafka_ConfigEntry_value(entries[j]);
        out[rd_kafka_ConfigEntry_name(entries[j])] = v ? v : "";
      }
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  return out;
}

mephisto::testing::harness_options suite_workers(const std::string& binary,
                                                 const std::string& url,
                                                 const std::string& dir,
                                                 std::vector<std::string> flags, bool rocksdb,
                                                 uint64_t seed) {
  flags.insert(flags.begin(), {"--threads", "2", "--commit_interval_ms", "200"});
  return {.binary = binary, .broker = url, .dir = dir, .rocksdb = rocksdb,
          .worker_args = std::move(flags), .seed = seed};
}

word_stream make_words(size_t n, uint32_t seed) {
  static const char* vocabulary[] = {"red",   "green", "blue", "yellow",
                                     "black", "white", "cat",  "dog"};
  std::mt19937 gen{seed};
  std::uniform_int_distribution<int> pick{0, 7};
  word_stream out;
  out.words.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string w = vocabulary[pick(gen)];
    if (w == "red" || w == "green" || w == "blue") {
      ++out.colors[w];
      ++out.color_words;
    }
    out.words.push_back(std::move(w));
  }
  return out;
}

keyed_stream make_keyed_events(size_t n, size_t keys, uint32_t seed) {
  std::mt19937 gen{seed};
  std::uniform_int_distribution<size_t> pick{0, keys - 1};
  keyed_stream out;
  out.events.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto key = "k" + std::to_string(pick(gen));
    ++out.counts[key];
    out.events.emplace_back(std::move(key), "e" + std::to_string(i));
  }
  return out;
}

void add_counts(std::map<std::string, int64_t>& a, const std::map<std::string, int64_t>& b) {
  for (auto& [k, v] : b)
    a[k] += v;
}

void expect_exact_running_counts(const std::vector<record>& output,
                                 const std::map<std::string, int64_t>& truth) {
  // Java's Utils.murmur2 / toPositive % 8, computed with kafka-clients 3.7.0.
  const std::map<std::string, int32_t> java_partition{{"red", 4}, {"green", 7}, {"blue", 0}};
  std::vector<mephisto::testing::topic_record> records;
  records.reserve(output.size());
  for (auto& r : output) {
    auto jp = java_partition.find(r.key);
    ASSERT_NE(jp, java_partition.end()) << "unexpected key on output: " << r.key;
    EXPECT_EQ(r.partition, jp->second) << "key " << r.key << " is not where Java puts it";
    records.push_back({r.key, r.value, r.partition, r.offset, r.has_value, {}});
  }
  // The public checker (mephisto::testing): exactly 1..n per key, in offset order.
  auto checked = mephisto::testing::check_exactly_once(records, truth);
  EXPECT_TRUE(checked) << checked.message();
}

std::vector<std::tuple<std::string, int64_t, int64_t>>
missing_runs(const std::vector<record>& output, const std::map<std::string, int64_t>& truth) {
  std::map<std::string, std::set<int64_t>> seen;
  for (auto& r : output)
    if (r.has_value)
      seen[r.key].insert(std::stoll(r.value));
  std::vector<std::tuple<std::string, int64_t, int64_t>> runs;
  for (auto& [key, n] : truth) {
    auto& got = seen[key];
    for (int64_t v = 1; v <= n; ++v) {
      if (got.count(v) > 0)
        continue;
      if (!runs.empty() && std::get<0>(runs.back()) == key && std::get<2>(runs.back()) == v - 1)
        std::get<2>(runs.back()) = v;
      else
        runs.emplace_back(key, v, v);
    }
  }
  return runs;
}

std::map<std::string, int64_t> last_counts(const std::vector<record>& output) {
  std::map<std::string, std::pair<std::pair<int32_t, int64_t>, int64_t>> last;
  for (auto& r : output) {
    if (!r.has_value)
      continue;
    auto at = std::pair{r.partition, r.offset};
    auto i = last.find(r.key);
    if (i == last.end() || i->second.first < at)
      last[r.key] = {at, std::stoll(r.value)};
  }
  std::map<std::string, int64_t> out;
  for (auto& [key, v] : last)
    out[key] = v.second;
  return out;
}

} // namespace testkit
