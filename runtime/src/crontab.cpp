#include "mephisto/crontab.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <date/tz.h>

namespace mephisto {

namespace {

constexpr const char* field_names[] = {"minute", "hour", "day of month", "month",
                                       "day of week"};
constexpr const char* month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* weekday_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct field_spec {
  int lo;
  int hi;
  const char* const* names; ///< for lo..lo+count-1, or null
  int name_count;
};

constexpr field_spec fields[] = {
  {0, 59, nullptr, 0}, {0, 23, nullptr, 0}, {1, 31, nullptr, 0},
  {1, 12, month_names, 12}, {0, 7, weekday_names, 7},
};

[[noreturn]] void refuse(const std::string& expr, int field, const std::string& why) {
  throw std::invalid_argument("crontab \"" + expr + "\": " + field_names[field] + ": " + why);
}

int parse_value(const std::string& expr, int field, std::string_view text) {
  auto& f = fields[field];
  if (f.names != nullptr && text.size() == 3) {
    std::string upper;
    for (char c : text)
      upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (int i = 0; i < f.name_count; ++i)
      if (upper == f.names[i])
        return f.lo + i;
  }
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size())
    refuse(expr, field, "'" + std::string{text} + "' is not a number");
  if (v < f.lo || v > f.hi)
    refuse(expr, field, std::to_string(v) + " is outside " + std::to_string(f.lo) + "-"
                          + std::to_string(f.hi));
  return v;
}

/// Sets the values of one field in `out` (indexed by value); true when the field is `*`.
template <size_t N>
bool parse_field(const std::string& expr, int field, std::string_view text, std::bitset<N>& out) {
  auto& f = fields[field];
  bool star = text == "*";
  while (!text.empty()) {
    auto comma = text.find(',');
    auto part = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (part.empty())
      refuse(expr, field, "an empty list item");
    int step = 1;
    if (auto slash = part.find('/'); slash != std::string_view::npos) {
      auto s = part.substr(slash + 1);
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
      if (ec != std::errc{} || end != s.data() + s.size() || step <= 0)
        refuse(expr, field, "the step '" + std::string{s} + "' is not a positive number");
      part = part.substr(0, slash);
    }
    int lo = f.lo;
    int hi = f.hi;
    if (part != "*") {
      auto dash = part.find('-');
      lo = parse_value(expr, field, part.substr(0, dash));
      hi = dash == std::string_view::npos ? lo : parse_value(expr, field, part.substr(dash + 1));
      if (dash == std::string_view::npos && step > 1)
        hi = f.hi; // "a/n": from a to the end, as cron reads it
      if (hi < lo)
        refuse(expr, field, "the range " + std::string{part} + " runs backwards");
    }
    for (int v = lo; v <= hi; v += step)
      out.set(static_cast<size_t>(field == 4 && v == 7 ? 0 : v));
  }
  return star;
}

} // namespace

cron_schedule::cron_schedule(const std::string& expr, const std::string& timezone)
  : expr_(expr), timezone_(timezone) {
  std::istringstream in{expr};
  std::vector<std::string> parts;
  for (std::string p; in >> p;)
    parts.push_back(p);
  if (parts.size() != 5)
    throw std::invalid_argument("crontab \"" + expr + "\": needs 5 fields (minute hour "
                                "day-of-month month day-of-week), has "
                                + std::to_string(parts.size()));
  parse_field(expr, 0, parts[0], minutes_);
  parse_field(expr, 1, parts[1], hours_);
  any_day_ = parse_field(expr, 2, parts[2], days_);
  parse_field(expr, 3, parts[3], months_);
  std::bitset<8> weekdays;
  any_weekday_ = parse_field(expr, 4, parts[4], weekdays);
  for (size_t d = 0; d < 7; ++d)
    weekdays_[d] = weekdays[d];
  try {
    zone_ = date::locate_zone(timezone);
  } catch (const std::exception& e) {
    throw std::invalid_argument("crontab \"" + expr + "\": unknown time zone '" + timezone
                                + "' (" + e.what() + ")");
  }
}

int64_t cron_schedule::next_after(int64_t after_ms) const {
  using namespace std::chrono;
  auto* zone = static_cast<const date::time_zone*>(zone_);
  auto first = floor<minutes>(sys_time<milliseconds>{milliseconds{after_ms}}) + minutes{1};
  auto local_first = zone->to_local(first);
  auto day = floor<date::days>(local_first);
  for (int i = 0; i < 5 * 366 + 1; ++i, day += date::days{1}) {
    date::year_month_day ymd{day};
    auto dom = static_cast<unsigned>(ymd.day());
    auto month = static_cast<unsigned>(ymd.month());
    auto dow = date::weekday{day}.c_encoding(); // 0: Sunday
    if (!months_[month])
      continue;
    bool day_ok = days_[dom];
    bool weekday_ok = weekdays_[dow];
    bool matches = any_day_ || any_weekday_ ? day_ok && weekday_ok : day_ok || weekday_ok;
    if (!matches)
      continue;
    for (int h = 0; h < 24; ++h) {
      if (!hours_[static_cast<size_t>(h)])
        continue;
      for (int m = 0; m < 60; ++m) {
        if (!minutes_[static_cast<size_t>(m)])
          continue;
        auto local = date::local_seconds{day} + hours{h} + minutes{m};
        if (local < local_first - hours{3})
          continue; // earlier than `after` even across a daylight-saving change
        auto info = zone->get_info(local);
        if (info.result == date::local_info::nonexistent)
          continue;
        auto sys = sys_seconds{local.time_since_epoch()} - info.first.offset;
        if (sys >= first)
          return duration_cast<milliseconds>(sys.time_since_epoch()).count();
        // An ambiguous minute whose first time passed: it does not fire again.
      }
    }
  }
  return -1;
}

} // namespace mephisto
