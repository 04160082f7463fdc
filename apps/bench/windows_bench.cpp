// --windows: what a windowed table's live windows cost: resident memory per 1M live
// windows (keys x windows per key, none closed: a day of grace) and updates per second, for
// memory and RocksDB stores. Each store is filled in a child process of its own, so that
// one's freed memory does not hide the other's; the figure is the child's VmRSS after
// filling minus before (RocksDB: with its 64 MiB block cache and write buffers, and the
// store's 100k decoded keys).

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include "bench_modes.hpp"
#include "mephisto/app.hpp"
#include "mephisto/detail/rocksdb_partition.hpp"

namespace bench {

namespace {

long rss_kib() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return -1;
}

/// Fills one table partition with `keys` x `per_key` one-minute windows, 1000 updates per
/// batch (its changes taken and, for RocksDB, written), and prints the figures.
void fill(bool rocksdb, size_t keys, size_t per_key, const std::string& dir) {
  using namespace std::chrono_literals;
  mephisto::app app{"windows"};
  auto counts = app.windowed_table<std::string, int64_t>("counts", mephisto::tumbling(1min),
                                                         {.grace = 24h});
  std::shared_ptr<mephisto::rocksdb_env> rocks;
  if (rocksdb)
    rocks = std::make_shared<mephisto::rocksdb_env>(dir, size_t{64} << 20, size_t{64} << 20);
  auto before = rss_kib();
  auto& def = app.declared().tables[counts.index()];
  auto store = def.make_store(mephisto::store_place{rocks.get(), "counts", 0});
  std::string why;
  if (store->open(why))
    throw std::runtime_error("cannot open the store: " + why);
  auto* windows = static_cast<mephisto::windowed_store<std::string, int64_t>*>(store.get());
  auto ctx = mephisto::detail::context_access::make("bench", "events", 0, 1);
  mephisto::send_buffer out;
  mephisto::detail::context_access::begin_batch(*ctx, &out);
  mephisto::windowed_view<std::string, int64_t> view{windows, ctx.get()};
  const int64_t t0 = 1704067200000;
  auto start = std::chrono::steady_clock::now();
  size_t updates = 0;
  int64_t offset = 0;
  for (size_t w = 0; w < per_key; ++w)
    for (size_t k = 0; k < keys; ++k) {
      store->begin_event();
      view.update_at("user-" + std::to_string(k), t0 + static_cast<int64_t>(w) * 60000,
                     [](int64_t& n) { ++n; });
      if (++updates % 1000 == 0) {
        store->end_batch(*ctx);
        store->take_changes(out, 0, 0);
        offset += static_cast<int64_t>(out.size());
        out.clear();
        if (auto write = store->seal())
          if (write->apply(offset))
            throw std::runtime_error("a RocksDB write failed");
      }
    }
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto after = rss_kib();
  auto live = windows->size();
  std::printf("%-8s %zu live windows (%zu keys x %zu): %.0f updates/s, RSS +%.0f MiB = %.0f "
              "bytes per window, %.0f MiB per 1M live windows\n",
              rocksdb ? "rocksdb" : "memory", live, keys, per_key,
              static_cast<double>(updates) / seconds, (after - before) / 1024.0,
              (after - before) * 1024.0 / static_cast<double>(live),
              (after - before) / 1024.0 * 1e6 / static_cast<double>(live));
}

} // namespace

int windows_bench(size_t keys, size_t per_key) {
  auto dir = std::filesystem::temp_directory_path()
             / ("mephisto-windows-bench-" + std::to_string(getpid()));
  int status = 0;
  for (bool rocksdb : {false, true}) {
    std::filesystem::remove_all(dir);
    auto child = fork();
    if (child == 0) {
      try {
        fill(rocksdb, keys, per_key, dir.string());
        std::fflush(stdout);
        _exit(0);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        std::fflush(stdout);
        _exit(1);
      }
    }
    int rc = 0;
    waitpid(child, &rc, 0);
    if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
      status = 1;
  }
  std::filesystem::remove_all(dir);
  return status;
}

} // namespace bench
