#include "agent_delivery.hpp"

#include <algorithm>
#include <cstring>

#include <caf/send.hpp>

#include "agent_steps.hpp"

#include "mephisto/actors/agent.hpp"
#include "mephisto/error.hpp"
#include "mephisto/log.hpp"

// The agent's bookkeeping outside its behaviour: the delivery report of its batches, and
// what it does with events that cannot be processed (rate-limited logs, dead letters).

namespace mephisto {

void agent_delivery::on_record(const char* topic, int32_t partition, int64_t offset) noexcept {
  if (partition != partition_ || changelogs_.empty())
    return;
  for (size_t i = 0; i < changelogs_.size(); ++i)
    if (changelogs_[i] != nullptr && std::strcmp(topic, changelogs_[i]) == 0)
      next_offsets_[i] = std::max(next_offsets_[i], offset + 1);
}

void agent_delivery::on_complete(bool ok) noexcept {
  caf::anon_send(agent_, delivered_atom::value, seq_, outputs_only_, ok,
                 std::move(next_offsets_));
}

agent_state::~agent_state() {
  if (delivery != nullptr)
    delivery->release();
  for (auto& stage : stages)
    if (stage.delivery != nullptr)
      stage.delivery->release();
}

bool agent_state::may_log() {
  auto now = std::chrono::steady_clock::now();
  if (now - log_window > std::chrono::seconds(1)) {
    if (suppressed > 0)
      log().warn("{}: {} more skipped events not logged", where, suppressed);
    log_window = now;
    logged_in_window = 0;
    suppressed = 0;
  }
  if (logged_in_window++ < 10)
    return true;
  ++suppressed;
  return false;
}

void agent_state::decode_error(const context& c, const consumed_record& rec,
                               std::string_view why) {
  if (may_log())
    log().warn("{}: undecodable event at {} [{}] offset {} goes to the dead-letter topic: {}",
               where, c.topic_name(), c.partition(), c.offset(), why);
  add_dead_letter(rec, "decode", why, 1);
}

void agent_state::failure(const context& c, const consumed_record&, std::string_view what) {
  if (may_log())
    log().warn("{}: user function failed at {} [{}] offset {} (attempt {} of {}): {}", where,
               c.topic_name(), c.partition(), c.offset(), attempts + 1,
               env->opts.retry_attempts, what);
  last_error.assign(what.data(), what.size());
}

void agent_state::too_large(const context& c, const consumed_record& rec,
                            const send_buffer::oversize& big) {
  auto topics = env->topo->producer_topics();
  auto topic = big.topic < topics.size() ? topics[big.topic] : std::to_string(big.topic);
  auto why = "an output record to topic '" + topic + "' has " + std::to_string(big.size)
             + " bytes of key and value, more than the " + std::to_string(big.limit)
             + " bytes it can take (the smaller of the topic's max.message.bytes and the "
               "producer's message.max.bytes, less "
             + std::to_string(kafka::producer::record_overhead)
             + " bytes of framing); the event's outputs and table changes were dropped";
  if (may_log())
    log().warn("{}: event at {} [{}] offset {} goes to the dead-letter topic: {}", where,
               c.topic_name(), c.partition(), c.offset(), why);
  add_dead_letter(rec, "record-too-large", why, 1);
}

void agent_state::rejected(const context& c, const consumed_record& rec, std::string_view kind,
                           std::string_view why) {
  if (may_log())
    log().warn("{}: event at {} [{}] offset {} goes to the dead-letter topic ({}): {}", where,
               c.topic_name(), c.partition(), c.offset(), kind, why);
  add_dead_letter(rec, kind, why, 1);
}

void agent_state::abandoned(const context&, const consumed_record& rec, std::string_view kind,
                            std::string_view why, int attempts) {
  add_dead_letter(rec, kind, why, attempts);
}

void agent_state::add_dead_letter(const consumed_record& rec, std::string_view kind,
                                  std::string_view why, int attempts_made) {
  dead_letter dl;
  dl.has_key = rec.key != nullptr;
  if (dl.has_key)
    dl.key.assign(rec.key, rec.key_size);
  dl.has_value = rec.value != nullptr;
  if (dl.has_value)
    dl.value.assign(rec.value, rec.value_size);
  dl.headers = {
    {"mephisto.error", std::string{why}},
    {"mephisto.error.kind", std::string{kind}},
    {"mephisto.topic", ctx->topic_name()},
    {"mephisto.partition", std::to_string(rec.partition)},
    {"mephisto.offset", std::to_string(rec.offset)},
    {"mephisto.agent", ctx->agent_name()},
    {"mephisto.attempts", std::to_string(attempts_made)},
  };
  dead_letters.push_back(std::move(dl));
  ++detail::context_access::counters(*ctx).dead_letters;
}

void agent_state::publish_counters() {
  auto& c = detail::context_access::counters(*ctx);
  auto& s = *env->report.stats;
  s.events.fetch_add(c.events - reported.events, std::memory_order_relaxed);
  s.decode_errors.fetch_add(c.decode_errors - reported.decode_errors,
                            std::memory_order_relaxed);
  s.failures.fetch_add(c.failures - reported.failures, std::memory_order_relaxed);
  s.retries.fetch_add(c.retries - reported.retries, std::memory_order_relaxed);
  s.dead_letters.fetch_add(c.dead_letters - reported.dead_letters,
                           std::memory_order_relaxed);
  s.sent.fetch_add(c.sent - reported.sent, std::memory_order_relaxed);
  s.late_events.fetch_add(c.late - reported.late, std::memory_order_relaxed);
  s.windows_closed.fetch_add(c.windows_closed - reported.windows_closed,
                             std::memory_order_relaxed);
  s.batches.fetch_add(1, std::memory_order_relaxed);
  if (spec.agent < s.agent_events.size())
    s.agent_events[spec.agent].fetch_add(c.events - reported.events, std::memory_order_relaxed);
  reported = c;
  auto now = std::chrono::steady_clock::now();
  s.batch_duration.observe(now - batch_started);
  // End-to-end latency: now against each event's Kafka timestamp (producer or log-append
  // time), which the wall clock measures. The one per-event cost of the metrics: only
  // when someone can read them (the web server is on).
  if (current && record_latency) {
    auto wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    for (auto& rec : current->records())
      if (rec.timestamp > 0)
        latencies.observe(std::chrono::milliseconds{wall_ms - rec.timestamp});
    s.event_latency.add(latencies);
  }
}

} // namespace mephisto

namespace mephisto::agent_steps {

/// Sends the replies of confirmed batches (seq < `upto`, or == `only`) to the worker actor,
/// which routes each to its asker.
void send_replies(self_ptr self, uint64_t upto, uint64_t only) {
  auto& st = self->state;
  for (auto i = st.replies.begin(); i != st.replies.end();) {
    if (i->first < upto || i->first == only) {
      for (auto& r : i->second)
        self->send(st.env->report.runner, reply_atom::value, std::move(r.to), std::move(r.id),
                   std::move(r.value));
      i = st.replies.erase(i);
    } else {
      ++i;
    }
  }
}

/// Crash tests: a failure injected at an offset of this batch stops the agent, as a
/// `restart_partition` would, or (a crash) by an exception that escapes the handler.
bool inject_failure(self_ptr self) {
  auto& st = self->state;
  auto& topic = st.env->topo->topics[st.topic];
  auto* f = st.env->services.faults->take_failure(topic.name, topic.kafka_name,
                                                  st.spec.partition,
                                                  st.current->first_offset(),
                                                  st.current->next_offset());
  if (f == nullptr)
    return false;
  if (f->crash)
    throw std::runtime_error("injected fault " + f->describe());
  fail(self, make_error(errc::partition_failed, "injected fault " + f->describe()));
  return true;
}

} // namespace mephisto::agent_steps
