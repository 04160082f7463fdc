#include "mephisto/testing.hpp"

#include <algorithm>
#include <charconv>
#include <sstream>
#include <tuple>

namespace mephisto::testing {

namespace {

/// A running count as written by the app (decimal); nullopt when it is not one.
std::optional<int64_t> count_of(const topic_record& r) {
  int64_t x = 0;
  auto* first = r.value.data();
  auto* last = first + r.value.size();
  auto [end, ec] = std::from_chars(first, last, x);
  if (!r.has_value || ec != std::errc{} || end != last)
    return std::nullopt;
  return x;
}

/// Each key's records in (partition, offset) order.
std::map<std::string, std::vector<const topic_record*>>
by_key(const std::vector<topic_record>& records) {
  std::map<std::string, std::vector<const topic_record*>> out;
  for (auto& r : records)
    out[r.key].push_back(&r);
  for (auto& [key, xs] : out)
    std::sort(xs.begin(), xs.end(), [](auto* a, auto* b) {
      return std::tie(a->partition, a->offset) < std::tie(b->partition, b->offset);
    });
  return out;
}

void diverge(check_result& res, const std::string& key, std::string expected, std::string got,
             const topic_record* at = nullptr) {
  res.ok = false;
  if (res.first)
    return;
  res.first = divergence{key, std::move(expected), std::move(got), at ? at->partition : -1,
                         at ? at->offset : -1};
}

std::string shown(const topic_record& r) {
  return r.has_value ? r.value : "null";
}

/// The checks shared by both guarantees: other keys, non-counts, counts beyond the truth,
/// and one partition per key. Returns per key the counts seen (with how often).
std::map<std::string, std::map<int64_t, size_t>>
running_counts(check_result& res, const std::vector<topic_record>& output,
               const std::map<std::string, int64_t>& truth, bool allow_past_truth) {
  res.records = output.size();
  res.keys = truth.size();
  std::map<std::string, std::map<int64_t, size_t>> seen;
  for (auto& [key, xs] : by_key(output)) {
    auto t = truth.find(key);
    for (auto* r : xs) {
      auto n = count_of(*r);
      if (t == truth.end()) {
        ++res.unexpected;
        diverge(res, key, "no record (the key was never sent)", shown(*r), r);
      } else if (r->partition != xs.front()->partition) {
        ++res.unexpected;
        diverge(res, key, "partition " + std::to_string(xs.front()->partition),
                "partition " + std::to_string(r->partition), r);
      } else if (n && *n > t->second && allow_past_truth) {
        ++res.past_truth;
      } else if (!n || *n < 1 || *n > t->second) {
        ++res.unexpected;
        diverge(res, key, "a count in 1.." + std::to_string(t->second), shown(*r), r);
      } else if (++seen[key][*n] > 1) {
        ++res.duplicates;
      }
    }
  }
  return seen;
}

} // namespace

std::string check_result::message() const {
  std::ostringstream out;
  out << checker << ": " << (ok ? "ok" : "FAILED") << ", " << keys << " keys, " << records
      << " records, " << missing << " missing, " << duplicates << " duplicates, " << unexpected
      << " unexpected";
  if (past_truth > 0)
    out << ", " << past_truth << " counts past the truth";
  if (first) {
    out << "; first divergence: key '" << first->key << "'";
    if (first->partition >= 0)
      out << " at partition " << first->partition << " offset " << first->offset;
    out << ": expected " << first->expected << ", got " << first->got;
  }
  return out.str();
}

check_result check_exactly_once(const std::vector<topic_record>& output,
                                const std::map<std::string, int64_t>& truth) {
  check_result res;
  res.checker = "exactly-once";
  running_counts(res, output, truth, false);
  auto keyed = by_key(output);
  for (auto& [key, n] : truth) {
    auto& xs = keyed[key];
    // In offset order the counts are 1, 2, ..., n: the first record that is not names the
    // divergence (a repeat, a gap or a reordering all show there).
    int64_t expected = 1;
    for (auto* r : xs) {
      auto got = count_of(*r);
      if (got && *got == expected) {
        ++expected;
        continue;
      }
      diverge(res, key,
              expected <= n ? std::to_string(expected)
                            : "no record after count " + std::to_string(n),
              shown(*r), r);
      break;
    }
    std::set<int64_t> present;
    for (auto* r : xs)
      if (auto got = count_of(*r); got && *got >= 1 && *got <= n)
        present.insert(*got);
    auto absent = static_cast<size_t>(n) - present.size();
    res.missing += absent;
    if (absent > 0) {
      for (int64_t v = 1; v <= n; ++v)
        if (present.count(v) == 0) {
          diverge(res, key, std::to_string(v), "no record");
          break;
        }
    }
  }
  if (res.duplicates > 0 || res.unexpected > 0)
    res.ok = false;
  return res;
}

check_result check_at_least_once(const std::vector<topic_record>& output,
                                 const std::map<std::string, int64_t>& truth) {
  check_result res;
  res.checker = "at-least-once";
  auto seen = running_counts(res, output, truth, true);
  for (auto& [key, n] : truth) {
    auto& counts = seen[key];
    for (int64_t v = 1; v <= n; ++v)
      if (counts.count(v) == 0) {
        ++res.missing;
        diverge(res, key, std::to_string(v), "no record");
      }
  }
  if (res.unexpected > 0)
    res.ok = false;
  return res;
}

check_result check_changelog_matches_table(const std::vector<topic_record>& changelog,
                                           const std::map<std::string, std::string>& table) {
  check_result res;
  res.checker = "changelog = table";
  res.records = changelog.size();
  std::vector<const topic_record*> ordered;
  for (auto& r : changelog)
    ordered.push_back(&r);
  std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) {
    return std::tie(a->partition, a->offset) < std::tie(b->partition, b->offset);
  });
  std::map<std::string, const topic_record*> last; // the record that decides each key
  for (auto* r : ordered)
    last[r->key] = r;
  std::map<std::string, std::string> replayed;
  for (auto& [key, r] : last)
    if (r->has_value)
      replayed[key] = r->value;
  res.keys = std::max(replayed.size(), table.size());
  for (auto& [key, value] : table) {
    auto i = replayed.find(key);
    if (i == replayed.end()) {
      ++res.missing;
      auto l = last.find(key);
      diverge(res, key, value, l == last.end() ? "no record" : "a tombstone",
              l == last.end() ? nullptr : l->second);
    } else if (i->second != value) {
      ++res.unexpected;
      diverge(res, key, value, i->second, last[key]);
    }
  }
  for (auto& [key, value] : replayed)
    if (table.count(key) == 0) {
      ++res.unexpected;
      diverge(res, key, "no key (not in the table)", value, last[key]);
    }
  return res;
}

check_result check_no_event_lost(const std::string& input_topic,
                                 const std::vector<topic_record>& input,
                                 const std::set<std::pair<int32_t, int64_t>>& processed,
                                 const std::vector<topic_record>& dead_letters) {
  check_result res;
  res.checker = "no event lost";
  res.records = input.size();
  res.keys = input.size();
  std::set<std::pair<int32_t, int64_t>> dead;
  for (auto& dl : dead_letters) {
    auto header = [&](const char* name) -> const std::string* {
      auto i = dl.headers.find(name);
      return i == dl.headers.end() ? nullptr : &i->second;
    };
    auto topic = header("mephisto.topic");
    auto partition = header("mephisto.partition");
    auto offset = header("mephisto.offset");
    if (topic == nullptr || partition == nullptr || offset == nullptr || *topic != input_topic)
      continue;
    try {
      dead.emplace(std::stoi(*partition), std::stoll(*offset));
    } catch (const std::exception&) {
      ++res.unexpected;
      diverge(res, dl.key, "mephisto.partition and mephisto.offset as numbers",
              *partition + ", " + *offset, &dl);
    }
  }
  for (auto& r : input) {
    std::pair<int32_t, int64_t> id{r.partition, r.offset};
    bool done = processed.count(id) > 0;
    bool dead_lettered = dead.count(id) > 0;
    if (!done && !dead_lettered) {
      ++res.missing;
      diverge(res, r.key, "processed or dead-lettered", "neither", &r);
    } else if (done && dead_lettered) {
      ++res.duplicates; // allowed: e.g. dead-lettered, then processed again after a crash
    }
  }
  return res;
}

} // namespace mephisto::testing
