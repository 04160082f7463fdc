// Keyed sends must land where Java clients, Kafka Streams and Faust put them. The
// expected partitions were computed with kafka-clients 3.7.0:
// Utils.toPositive(Utils.murmur2(utf8(key))) % n.

#include <string>

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

namespace {

int32_t partition_of(const std::string& key, int32_t n) {
  return rd_kafka_msg_partitioner_murmur2_random(nullptr, key.data(), key.size(), n, nullptr,
                                                 nullptr);
}

} // namespace

TEST(partitioner, murmur2_random_matches_java) {
  struct vec {
    const char* key;
    int32_t p8, p4, p3, p16;
  };
  const vec vectors[] = {
    {"red", 4, 0, 0, 4},          {"green", 7, 3, 2, 7},
    {"blue", 0, 0, 0, 0},         {"yellow", 0, 0, 1, 0},
    {"a", 4, 0, 1, 12},           {"21", 4, 0, 0, 12},
    {"foobar", 6, 2, 0, 14},      {"mephisto-key-0", 4, 0, 2, 4},
    {"mephisto-key-12345", 7, 3, 1, 7},
  };
  for (auto& v : vectors) {
    EXPECT_EQ(partition_of(v.key, 8), v.p8) << v.key;
    EXPECT_EQ(partition_of(v.key, 4), v.p4) << v.key;
    EXPECT_EQ(partition_of(v.key, 3), v.p3) << v.key;
    EXPECT_EQ(partition_of(v.key, 16), v.p16) << v.key;
  }
}
