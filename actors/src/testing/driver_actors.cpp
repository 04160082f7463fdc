#include "driver_actors.hpp"

#include <algorithm>
#include <memory>

#include "mephisto/kafka/message_batch.hpp"

namespace mephisto::testing::detail {

namespace {

bool has_credit(const feed_state& st) {
  for (auto n : st.in_flight)
    if (n >= st.max_in_flight)
      return false;
  return true;
}

/// Hands out the log from the cursor on while every agent has credit.
void pull(source_actor::stateful_pointer<feed_state> self) {
  auto& st = self->state;
  auto& cur = *st.cursor;
  auto& records = cur.log->records;
  while (has_credit(st) && cur.next < records.size()) {
    auto batch = std::make_shared<kafka::message_batch>();
    auto end = std::min(records.size(), cur.next + st.batch_size);
    batch->reserve(end - cur.next);
    for (; cur.next < end; ++cur.next) {
      auto& r = records[cur.next];
      consumed_record c;
      if (r.has_key) {
        c.key = r.key.data();
        c.key_size = r.key.size();
      }
      if (r.has_value) {
        c.value = r.value.data();
        c.value_size = r.value.size();
      }
      c.offset = static_cast<int64_t>(cur.next);
      c.timestamp = r.timestamp;
      if (!r.headers.empty())
        c.headers = &r.headers;
      batch->push_back(c);
    }
    kafka::batch_ptr shared = std::move(batch);
    for (size_t i = 0; i < st.agents.size(); ++i) {
      ++st.in_flight[i];
      self->send(st.agents[i], batch_atom::value, shared);
    }
  }
  cur.at_end = cur.next == records.size();
}

} // namespace

source_actor::behavior_type feed(source_actor::stateful_pointer<feed_state> self,
                                 feed_cursor* cursor, std::vector<agent_actor> agents,
                                 int32_t batch_size, int32_t max_in_flight) {
  auto& st = self->state;
  st.cursor = cursor;
  st.agents = std::move(agents);
  st.in_flight.assign(st.agents.size(), 0);
  st.max_in_flight = std::max(1, max_in_flight);
  st.batch_size = static_cast<size_t>(std::max(1, batch_size));
  return {
    [self](wake_atom) { pull(self); },
    [self](credit_atom, int32_t slot) {
      auto& st = self->state;
      if (slot >= 0 && static_cast<size_t>(slot) < st.in_flight.size())
        --st.in_flight[static_cast<size_t>(slot)];
      pull(self);
    },
    // Exactly-once steps: the driver runs at-least-once and never sends them.
    [self](pause_atom) { return static_cast<int64_t>(self->state.cursor->next) - 1; },
    [self](resume_atom) { pull(self); },
    [self](halt_atom) {
      self->quit();
      return caf::ok_atom::value;
    },
  };
}

group_consumer_actor::behavior_type progress_book(group_consumer_actor::pointer self,
                                                  driver_record_book* book,
                                                  std::vector<size_t> agents_per_topic) {
  return {
    [book, agents_per_topic](progress_atom, uint32_t topic, int32_t partition, int32_t slot,
                             int64_t offset) {
      auto& slots = book->progress[{topic, partition}];
      slots.resize(agents_per_topic[topic], -1);
      auto& at = slots[static_cast<size_t>(slot)];
      at = std::max(at, offset);
    },
    [](reopen_atom, uint32_t, int32_t) { return partition_queue{}; },
    [](abort_atom, uint64_t) {},
    [self](halt_atom) { self->quit(); },
  };
}

worker_actor::behavior_type runner_book(worker_actor::pointer self, driver_record_book* book) {
  return {
    [](watch_atom, group_consumer_actor&, partition_manager_actor&, cluster_actor&,
       std::string&) {},
    [self](halt_atom) { self->quit(); },
    [book](lifecycle_event& ev) { book->events.push_back(std::move(ev)); },
    [](subscribe_atom, caf::actor&) {},
    [](asker_atom, caf::actor&) {},
    [book](reply_atom, std::string&, std::string& id, std::string& value) {
      book->replies.emplace_back(std::move(id), std::move(value));
    },
  };
}

} // namespace mephisto::testing::detail
