// The library side of agent askers (agent_asker.hpp): produce an asked record with the
// headers an agent's `ctx.reply` reads, and fail what cannot be answered.
#include "mephisto/agent_asker.hpp"

namespace mephisto::detail {

void asker_send(asker_self self, const std::string& key, const std::string& value) {
  auto& st = self->state;
  auto n = st.next++;
  auto rp = self->make_response_promise();
  writer_core::headers hdrs{{"mephisto.reply-to", st.reply_to},
                            {"mephisto.ask-id",
                             std::to_string(self->id()) + ":" + std::to_string(n)}};
  auto* job = st.core->begin(n, caf::actor{self});
  auto res = st.core->produce(job, key, value, st.why, &hdrs);
  st.core->seal(job);
  if (res == writer_core::status::queue_full) {
    rp.deliver(make_error(errc::produce_failed, st.core->topic_name()
                                                  + ": the producer's queue is full; ask again"));
    return;
  }
  if (res == writer_core::status::failed) {
    rp.deliver(make_error(errc::produce_failed, st.core->topic_name() + ": " + st.why));
    return;
  }
  st.asked.emplace(n, agent_asker_state::waiting{std::move(rp),
                                                 std::chrono::steady_clock::now() + st.timeout});
}

void asker_acked(asker_self self, const write_ack& ack) {
  if (ack.error.empty())
    return; // in Kafka: the agent's reply is what answers
  auto& st = self->state;
  auto i = st.asked.find(ack.id);
  if (i == st.asked.end())
    return;
  i->second.answer.deliver(
    make_error(errc::produce_failed, st.core->topic_name() + ": " + ack.error));
  st.asked.erase(i);
}

void asker_expire(asker_self self) {
  auto& st = self->state;
  auto now = std::chrono::steady_clock::now();
  for (auto i = st.asked.begin(); i != st.asked.end();) {
    if (i->second.deadline <= now) {
      i->second.answer.deliver(make_error(
        errc::timeout, "no reply within " + std::to_string(st.timeout.count())
                         + " ms (the event is in Kafka and will be processed; a late reply is "
                           "dropped)"));
      i = st.asked.erase(i);
    } else {
      ++i;
    }
  }
}

} // namespace mephisto::detail
