// libFuzzer target: what a RocksDB table partition stores, read back. Per key the store
// writes the value's codec bytes in column family `data`, and in `meta` the changelog
// offset (8 bytes, big-endian). Fuzzed:
// - the offset decoder on any bytes (no DB needed: `rocksdb_partition::decode_offset`);
// - stored values: bytes put under a key as they are (a store written by another version,
//   or damaged) or through a changelog restore and checkpoint, then read by fresh stores
//   of several value types. A read gives the decoded value, or, for bytes the table cannot
//   decode, the store's `mephisto::store_error` naming the table and partition (the store
//   then condemns its database: the next open starts it over, and the value is put back);
//   nothing else escapes.
//
// Input: a mode byte (bit 0: through a restore; bit 1: with it, a tombstone), the offset
// bytes, the key, then the value (FuzzedDataProvider strings).
//
// One database (a temporary directory on /dev/shm) serves all inputs; each input removes
// its keys again, and every 20000 inputs the column families are dropped and made anew.
// Starting the database over (a RocksDB open, ~50 ms here) on every refused read would
// make 10M inputs take days: every refusal checks that the store condemned its database
// (the condemnation's reason), and then lifts it again (`rocksdb_env_access`), except the
// first refusal and every 10000th after it, which go the whole way: the next open starts
// the database over. That step does not depend on the stored bytes (tests/unit's
// rocksdb_env test checks it too).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <unistd.h>

#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz_types.hpp"
#include "mephisto/rocksdb_store.hpp"

namespace mephisto {

/// The fuzzer's access to `rocksdb_env`'s condemnations (a friend of it).
struct rocksdb_env_access {
  /// Why the partition's database is condemned ("" when it is not), the condemnation lifted.
  static std::string take_condemnation(rocksdb_env& env, const std::string& table,
                                       int32_t partition) {
    auto place = env.slot_of(env.root() + "/" + table + "/" + std::to_string(partition));
    std::lock_guard<std::mutex> guard{place->mtx};
    return std::exchange(place->condemned, std::string{});
  }
};

} // namespace mephisto

namespace {

using mephisto::codec;

/// Refused reads that go the whole way (the next open starts the database over): the
/// first, then one in this many.
constexpr size_t start_over_every = 10000;

struct database {
  std::string root;
  std::unique_ptr<mephisto::rocksdb_env> env;
  std::shared_ptr<mephisto::rocksdb_partition> part;
  size_t inputs = 0;
  size_t refusals = 0;

  database() {
    char dir[] = "/dev/shm/mephisto-fuzz-XXXXXX";
    char tmp[] = "/tmp/mephisto-fuzz-XXXXXX";
    auto made = mkdtemp(dir);
    root = made != nullptr ? made : mkdtemp(tmp);
    env = std::make_unique<mephisto::rocksdb_env>(root, 8 << 20, 16 << 20);
    std::string why;
    bool created = false;
    auto p = env->open("t", 0, why, created);
    if (!p)
      fuzz::fail("cannot open the fuzz database", root);
    part = std::move(*p);
  }

  ~database() {
    part.reset();
    env.reset();
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }

  mephisto::store_place place() const { return {env.get(), "t", 0, 100}; }

  /// After a store error the database is condemned: reopening it starts it over, empty.
  void start_over() {
    part.reset();
    std::string why;
    bool created = false;
    auto p = env->open("t", 0, why, created);
    if (!p || why.find("local store discarded (the stored value cannot be decoded")
                == std::string::npos)
      fuzz::fail("a condemned database was not started over", why);
    part = std::move(*p);
  }
};

database& db() {
  static database instance;
  return instance;
}

/// Reads raw key `key_text` through a fresh store with value type V: the value must be
/// what the codec decodes from `stored`, or the store must throw when it cannot.
template <class K, class V>
void read_back(std::string_view key_text, const std::string& stored) {
  K key{};
  std::string why;
  if (!codec<K>::decode(key_text, key, why))
    return; // no key of this table has these bytes
  std::string canonical;
  codec<K>::encode(key, canonical);
  if (canonical != key_text)
    return; // the store would look up other bytes
  V expected{};
  bool decodes = codec<V>::decode(stored, expected, why);
  std::optional<V> found;
  bool refused = false;
  {
    mephisto::rocksdb_store<K, V> store{db().place()};
    if (auto err = store.open(why))
      fuzz::fail("cannot open a store");
    try {
      if (auto* p = store.find(key))
        found = *p;
    } catch (const mephisto::store_error& e) {
      refused = true;
      if (e.table() != "t" || e.partition() != 0)
        fuzz::fail("a store error names another table partition", e.table());
      if (e.reason().find("cannot be decoded") == std::string::npos)
        fuzz::fail("a store error without the codec's reason", e.reason());
      if (store.failure() == nullptr || store.failure()->key() != e.key())
        fuzz::fail("the store does not report its failure", e.key());
    }
  }
  if (refused) {
    if (decodes)
      fuzz::fail("a decodable stored value was refused", stored);
    if (db().refusals++ % start_over_every == 0) {
      // The whole way. The next reads (other value types) find the bytes again.
      db().start_over();
      mephisto::rocksdb_batch batch;
      batch.put(db().part->data(), key_text, stored);
      if (db().part->write_unlogged(batch, -1))
        fuzz::fail("cannot write");
    } else {
      auto reason = mephisto::rocksdb_env_access::take_condemnation(*db().env, "t", 0);
      if (reason.find("the stored value cannot be decoded") == std::string::npos)
        fuzz::fail("a refused read did not condemn the database", reason);
    }
    return;
  }
  if (!decodes)
    fuzz::fail("an undecodable stored value was served", stored);
  if (!found || !fuzz::same(*found, expected))
    fuzz::fail("the stored value read back differs", stored);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in{data, size};
  auto mode = in.ConsumeIntegral<uint8_t>();
  auto offset_text = in.ConsumeRandomLengthString(16);
  auto off = mephisto::rocksdb_partition::decode_offset(offset_text);
  if (offset_text.size() != 8 && off != 0)
    fuzz::fail("an offset of the wrong size decoded", offset_text);
  if (offset_text.size() == 8 && mephisto::rocksdb_partition::encode_offset(off) != offset_text)
    fuzz::fail("the offset round trip changed it", offset_text);
  auto key = in.ConsumeRandomLengthString(256);
  auto value = in.ConsumeRemainingBytesAsString();
  auto& d = db();
  if ((mode & 1) == 0) {
    // As it is on disk.
    mephisto::rocksdb_batch batch;
    batch.put(d.part->data(), key, value);
    if (auto err = d.part->write_unlogged(batch, -1))
      fuzz::fail("cannot write");
  } else {
    // Through a restore (only what the table can decode gets there).
    mephisto::rocksdb_store<std::string, std::string> store{d.place()};
    std::string why;
    if (store.open(why))
      fuzz::fail("cannot open a store");
    std::optional<std::string_view> v;
    if ((mode & 2) == 0)
      v = value;
    if (!store.restore(key, v, why))
      fuzz::fail("a raw table refused a record", why);
    if (store.checkpoint(off < 0 ? 0 : off, true))
      fuzz::fail("cannot checkpoint");
    if (!v) {
      std::string got;
      if (d.part->get(key, got))
        fuzz::fail("a tombstone left its key");
      return 0;
    }
  }
  read_back<std::string, int64_t>(key, value);
  read_back<std::string, std::string>(key, value);
  read_back<std::string, double>(key, value);
  read_back<int64_t, fuzz::reading>(key, value);
  mephisto::rocksdb_batch batch;
  batch.erase(d.part->data(), key);
  if (d.part->write_unlogged(batch, -1))
    fuzz::fail("cannot erase");
  if (++d.inputs % 20000 == 0 && d.part->clear())
    fuzz::fail("cannot clear");
  return 0;
}
