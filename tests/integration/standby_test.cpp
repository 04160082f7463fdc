// Standby replicas: their placement, and failovers to warm copies (memory and RocksDB),
// with two workers in this process on one embedded broker.

#include "integration/standby_support.hpp"

using namespace standby_suite;

TEST(standby, placement_gives_each_owned_partition_its_copies_on_other_instances) {
  std::vector<std::string> members{"a:1", "b:2", "c:3"};
  std::vector<int32_t> partitions{8, 4}; // two tables
  auto owner = [](int32_t t, int32_t p) { return (p + t) % 3 == 0 ? std::string{"a:1"}
                                                 : (p + t) % 3 == 1 ? std::string{"b:2"}
                                                                    : std::string{"c:3"}; };
  for (int replicas : {1, 2}) {
    std::map<std::pair<int32_t, int32_t>, int> copies;
    for (auto& m : members) {
      auto mine = mephisto::standby_placement(m, members, partitions, replicas, {}, owner);
      for (size_t i = 0; i + 1 < mine.size(); i += 2) {
        EXPECT_NE(owner(mine[i], mine[i + 1]), m) << "an owner keeps a copy of its own";
        ++copies[{mine[i], mine[i + 1]}];
      }
    }
    EXPECT_EQ(copies.size(), 12u);
    for (auto& [tp, n] : copies)
      EXPECT_EQ(n, replicas) << "table " << tp.first << " [" << tp.second << "]";
  }
  // No known owner (it just died): a copy kept so far stays, none is added.
  auto nobody = [](int32_t, int32_t) { return std::string{}; };
  auto kept = mephisto::standby_placement("a:1", members, partitions, 1, {0, 3}, nobody);
  EXPECT_EQ(kept, (std::vector<int32_t>{0, 3}));
  // Alone: nothing to copy for anyone.
  auto self_owner = [](int32_t, int32_t) { return std::string{"a:1"}; };
  EXPECT_TRUE(mephisto::standby_placement("a:1", {"a:1"}, partitions, 1, {}, self_owner).empty());
}

TEST(standby, a_failover_to_a_warm_memory_copy_reads_only_the_tail) {
  auto dir = testkit::temp_dir("standby_memory");
  auto with = fail_over(dir, "memory", 1);
  auto eager = fail_over(dir + "/eager", "memory", 1, "range");
  auto without = fail_over(dir + "/cold", "memory", 0);
  std::printf("[ summary  ] memory failover: changelog %lu records; restored %lu with a "
              "standby (%ld handovers), %lu with a standby and the eager range assignor "
              "(%ld handovers), %lu without\n",
              static_cast<unsigned long>(with.changelog_records),
              static_cast<unsigned long>(with.restored_on_failover), static_cast<long>(with.handovers),
              static_cast<unsigned long>(eager.restored_on_failover), static_cast<long>(eager.handovers),
              static_cast<unsigned long>(without.restored_on_failover));
  // Cooperative: B keeps its own partitions and takes A's four from the copies.
  EXPECT_EQ(with.handovers, 4);
  // Eager: B's own four are revoked too; their stores were kept warm until they came back.
  EXPECT_EQ(eager.handovers, 8);
  EXPECT_EQ(without.handovers, 0);
  // Without a copy the survivor reads A's half of the changelog; with one, about nothing.
  EXPECT_GT(without.restored_on_failover, without.changelog_records / 4);
  EXPECT_LT(with.restored_on_failover, with.changelog_records / 100);
  EXPECT_LT(eager.restored_on_failover, eager.changelog_records / 100);
}

TEST(standby, a_failover_to_a_warm_rocksdb_copy_reads_only_the_tail) {
  auto dir = testkit::temp_dir("standby_rocksdb");
  auto fig = fail_over(dir, "rocksdb", 1);
  std::printf("[ summary  ] rocksdb failover: changelog %lu records; restored %lu with a "
              "standby (%ld handovers)\n",
              static_cast<unsigned long>(fig.changelog_records),
              static_cast<unsigned long>(fig.restored_on_failover), static_cast<long>(fig.handovers));
  EXPECT_EQ(fig.handovers, 4);
  EXPECT_LT(fig.restored_on_failover, fig.changelog_records / 100);
}
