#pragma once

#include <bitset>
#include <cstdint>
#include <string>

namespace mephisto {

/// A crontab schedule, "minute hour day-of-month month day-of-week", in a time zone (for
/// `app::crontab`, Faust's `@app.crontab`). Immutable after construction; safe to share
/// between threads.
///
/// Each field is `*`, a value, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list of
/// these. Minutes 0-59, hours 0-23, days 1-31, months 1-12 or JAN-DEC, days of the week
/// 0-7 or SUN-SAT (0 and 7 are Sunday). As in cron, a day matches when both day fields
/// match, or either one when both are restricted (neither is `*`).
class cron_schedule {
public:
  /// Parses `expr` for `timezone`, an IANA name ("Europe/Berlin") from the system's time
  /// zone database (Debian's tzdata). Throws `std::invalid_argument` naming the field or
  /// the zone.
  explicit cron_schedule(const std::string& expr, const std::string& timezone = "UTC");

  /// The first time after `after_ms` (ms since the epoch) when the schedule fires: the
  /// start of a matching minute of local time. A local minute that a daylight-saving
  /// change skips never fires; one it repeats fires once, the first time. -1: none within
  /// five years (e.g. February 30th).
  int64_t next_after(int64_t after_ms) const;

  const std::string& expression() const noexcept { return expr_; }
  const std::string& timezone() const noexcept { return timezone_; }

private:
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;
  std::bitset<13> months_;
  std::bitset<7> weekdays_;
  bool any_day_ = true;      ///< the day-of-month field is `*`
  bool any_weekday_ = true;  ///< the day-of-week field is `*`
  const void* zone_ = nullptr; ///< the tz database's zone (date::time_zone), never freed
  std::string expr_;
  std::string timezone_;
};

} // namespace mephisto
