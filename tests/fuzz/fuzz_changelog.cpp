// libFuzzer target: changelog records (a Kafka message's key and value, a null value being a
// tombstone) made into table changes, as a table restore and a standby replica do: through
// `changelog_batch::iterator` (librdkafka message -> changelog_event) and
// `changelog_event::apply_to` (-> store_base::restore) into memory stores of several key
// and value types. A record that applies must leave the table as a model of the same
// changes says; one that does not must leave it unchanged and say why.
//
// Input: records, each a flags byte (bit 0: tombstone, bit 1: null key, bit 2: an end of
// partition event instead) then key and value as FuzzedDataProvider random-length strings.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>
#include <librdkafka/rdkafka.h>

#include "fuzz_types.hpp"
#include "mephisto/kafka/changelog_tail.hpp"
#include "mephisto/store.hpp"

namespace {

using mephisto::codec;
using mephisto::kafka::changelog_event;

template <class K, class V>
struct table {
  mephisto::memory_store<K, V> store;
  std::map<K, V> model;

  void apply(const changelog_event& ev) {
    std::string why;
    K k{};
    V v{};
    std::string ignored;
    bool key_ok = codec<K>::decode(ev.key, k, ignored);
    bool value_ok = !ev.value || codec<V>::decode(*ev.value, v, ignored);
    bool applied = ev.apply_to(store, why);
    if (applied != (key_ok && value_ok))
      fuzz::fail("apply_to disagrees with the codecs", ev.key);
    if (!applied) {
      if (why.empty())
        fuzz::fail("a refused record without a reason", ev.key);
      return;
    }
    if (ev.value)
      model.insert_or_assign(k, v);
    else
      model.erase(k);
  }

  void verify() {
    if (store.size() != model.size())
      fuzz::fail("the table's size differs from the model's");
    for (auto& [k, v] : model) {
      auto p = store.find(k);
      if (p == nullptr || !fuzz::same(*p, v))
        fuzz::fail("the table's value differs from the model's");
      std::string key_text;
      codec<K>::encode(k, key_text);
      std::string value_text;
      std::string why;
      if (!store.lookup(key_text, value_text, why))
        fuzz::fail("lookup of an encoded key misses", key_text);
    }
    std::vector<std::pair<std::string, std::string>> snap;
    store.snapshot(snap);
    if (snap.size() != model.size())
      fuzz::fail("the snapshot's size differs from the model's");
    for (auto& [kt, vt] : snap) {
      K k{};
      V v{};
      std::string why;
      if (!codec<K>::decode(kt, k, why) || !codec<V>::decode(vt, v, why))
        fuzz::fail("a snapshot pair does not decode", kt);
      auto i = model.find(k);
      if (i == model.end() || !fuzz::same(i->second, v))
        fuzz::fail("a snapshot pair is not in the model", kt);
    }
  }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in{data, size};
  table<std::string, int64_t> counts;    // the colors app's table
  table<std::string, std::string> names;
  table<int64_t, fuzz::reading> readings;
  table<std::string, double> levels;
  table<int32_t, bool> flags;
  int64_t offset = 0;
  while (in.remaining_bytes() > 0) {
    auto mode = in.ConsumeIntegral<uint8_t>();
    auto key = in.ConsumeRandomLengthString(4096);
    auto value = in.ConsumeRandomLengthString(4096);
    rd_kafka_message_t m{};
    m.err = (mode & 4) != 0 ? RD_KAFKA_RESP_ERR__PARTITION_EOF : RD_KAFKA_RESP_ERR_NO_ERROR;
    m.partition = 3;
    m.offset = offset++;
    if ((mode & 2) == 0) {
      m.key = key.data();
      m.key_len = key.size();
    }
    if ((mode & 1) == 0) {
      m.payload = value.data();
      m.len = value.size();
    }
    rd_kafka_message_t* msgs[] = {&m};
    auto ev = *mephisto::kafka::changelog_batch::iterator{msgs};
    if (ev.offset != m.offset || ev.partition != m.partition)
      fuzz::fail("the event lost its position");
    if (ev.kind == changelog_event::end_of_partition)
      continue;
    if (ev.kind != changelog_event::record)
      fuzz::fail("a record is not a record");
    if (ev.value.has_value() != (m.payload != nullptr) || ev.key.size() != m.key_len)
      fuzz::fail("the event differs from the message");
    counts.apply(ev);
    names.apply(ev);
    readings.apply(ev);
    levels.apply(ev);
    flags.apply(ev);
  }
  counts.verify();
  names.verify();
  readings.verify();
  levels.verify();
  flags.verify();
  return 0;
}
