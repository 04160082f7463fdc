// --driver: the colors app through the test driver (mephisto::testing::driver), no broker:
// how fast a user's driver test runs, in events per second (both agents' events), with
// tables in memory and in RocksDB.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "bench_modes.hpp"
#include "colors_app.hpp"
#include "mephisto/testing.hpp"

namespace bench {

namespace {

/// One round: `words` piped (every third a color) and run; returns events per second.
double driver_round(size_t words, bool rocksdb, const std::string& dir) {
  mephisto::app app{"colors"};
  colors::declare(app);
  mephisto::testing::driver_options opts;
  opts.partitions = 8;
  opts.rocksdb = rocksdb;
  opts.state_dir = dir;
  std::filesystem::remove_all(dir);
  static const char* vocabulary[] = {"red", "cat", "dog", "green", "owl", "eel", "blue", "fox", "ant"};
  auto start = std::chrono::steady_clock::now();
  mephisto::testing::driver d{app, opts};
  for (size_t i = 0; i < words; ++i)
    d.pipe_raw("input", std::nullopt, vocabulary[i % 9]);
  auto events = d.run();
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  size_t colors = 0;
  for (size_t i = 0; i < words; ++i)
    colors += i % 9 == 0 || i % 9 == 3 || i % 9 == 6;
  if (d.records("output").size() != colors)
    throw std::runtime_error("the driver's output has not one record per color word");
  return static_cast<double>(events) / seconds;
}

} // namespace

int driver_bench(size_t words, int rounds) {
  auto dir = std::filesystem::temp_directory_path() / ("mephisto-driver-bench-" + std::to_string(getpid()));
  std::printf("colors through the test driver: %zu words over 8 partitions, %d rounds\n", words,
              rounds);
  for (bool rocksdb : {false, true}) {
    std::vector<double> rates;
    for (int r = 0; r < rounds; ++r) {
      rates.push_back(driver_round(words, rocksdb, dir.string()));
      std::printf("  %-8s round %d: %.0f events/s\n", rocksdb ? "rocksdb" : "memory", r + 1,
                  rates.back());
    }
    std::sort(rates.begin(), rates.end());
    std::printf("%s tables: median %.0f events/s\n", rocksdb ? "rocksdb" : "memory",
                rates[rates.size() / 2]);
  }
  std::filesystem::remove_all(dir);
  return 0;
}

} // namespace bench
