#include "mephisto/kafka/group_admin.hpp"

#include <memory>
#include <thread>

#include "mephisto/kafka/admin.hpp"

namespace mephisto::kafka {

using std::chrono::milliseconds;

namespace {

struct event_deleter {
  void operator()(rd_kafka_event_t* ev) const noexcept { rd_kafka_event_destroy(ev); }
};
using event_ptr = std::unique_ptr<rd_kafka_event_t, event_deleter>;

struct list_deleter {
  void operator()(rd_kafka_topic_partition_list_t* xs) const noexcept {
    rd_kafka_topic_partition_list_destroy(xs);
  }
};
using list_ptr = std::unique_ptr<rd_kafka_topic_partition_list_t, list_deleter>;

list_ptr make_list(const std::vector<partition_key>& partitions) {
  list_ptr xs{rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()))};
  for (auto& [topic, p] : partitions)
    rd_kafka_topic_partition_list_add(xs.get(), topic.c_str(), p);
  return xs;
}

/// Runs one admin request: `call(options, queue)` sends it; the result event, or an error
/// naming `what` when there is no answer within `timeout` (and a second more) or the request
/// failed as a whole.
template <class Call>
expected<event_ptr> admin_request(rd_kafka_t* rk, rd_kafka_admin_op_t op, const char* what,
                                  milliseconds timeout, Call call) {
  char errstr[512];
  queue_ptr q{rd_kafka_queue_new(rk)};
  auto opts = rd_kafka_AdminOptions_new(rk, op);
  rd_kafka_AdminOptions_set_request_timeout(opts, static_cast<int>(timeout.count()), errstr,
                                            sizeof errstr);
  call(opts, q.get());
  rd_kafka_AdminOptions_destroy(opts);
  event_ptr ev{rd_kafka_queue_poll(q.get(), static_cast<int>(timeout.count()) + 1000)};
  if (!ev)
    return make_error(errc::broker_unreachable, std::string{what} + " got no answer within "
                                                  + std::to_string(timeout.count()) + " ms");
  if (auto err = rd_kafka_event_error(ev.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return make_error(err == RD_KAFKA_RESP_ERR__TIMED_OUT ? errc::broker_unreachable
                                                          : errc::kafka_error,
                      std::string{what} + ": " + rd_kafka_event_error_string(ev.get()));
  return ev;
}

/// The error of one group in a group result (DeleteGroups, ListConsumerGroupOffsets,
/// AlterConsumerGroupOffsets), or of one of its partitions; none when all went well.
caf::error group_result_error(const rd_kafka_group_result_t* res, const std::string& what) {
  if (auto err = rd_kafka_group_result_error(res))
    return make_error(rd_kafka_error_code(err) == RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP
                          || rd_kafka_error_code(err) == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID
                        ? errc::refused
                        : errc::kafka_error,
                      what + ": " + rd_kafka_error_string(err));
  if (auto parts = rd_kafka_group_result_partitions(res))
    for (int i = 0; i < parts->cnt; ++i)
      if (auto err = parts->elems[i].err; err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return make_error(err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ? errc::refused
                                                                     : errc::kafka_error,
                          what + ": " + parts->elems[i].topic + " ["
                            + std::to_string(parts->elems[i].partition)
                            + "]: " + rd_kafka_err2str(err));
  return caf::none;
}

/// Whether a group request failed only because the group's coordinator is not there yet
/// (a new cluster creates __consumer_offsets on the first request, a coordinator moves).
bool coordinator_busy(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR
         || err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE
         || err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
}

bool coordinator_busy(const rd_kafka_group_result_t* res) {
  auto err = rd_kafka_group_result_error(res);
  return err != nullptr && coordinator_busy(rd_kafka_error_code(err));
}

/// Calls `once(busy)` until it does not set `busy` (the coordinator answered) or `timeout`
/// passed; returns its last result.
template <class Once>
auto until_coordinator_answers(milliseconds timeout, Once once) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool busy = false;
    auto result = once(busy);
    if (!busy || std::chrono::steady_clock::now() > deadline)
      return result;
    std::this_thread::sleep_for(milliseconds{200});
  }
}

} // namespace

expected<group_description> describe_group(rd_kafka_t* rk, const std::string& group,
                                           milliseconds timeout) {
  return until_coordinator_answers(timeout, [&](bool& busy) -> expected<group_description> {
    const char* groups[] = {group.c_str()};
    auto ev = admin_request(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, "DescribeConsumerGroups",
                            timeout, [&](auto* opts, auto* q) {
                              rd_kafka_DescribeConsumerGroups(rk, groups, 1, opts, q);
                            });
    if (!ev)
      return ev.error();
    size_t n = 0;
    auto res = rd_kafka_event_DescribeConsumerGroups_result(ev->get());
    auto descs = res ? rd_kafka_DescribeConsumerGroups_result_groups(res, &n) : nullptr;
    if (n != 1)
      return make_error(errc::kafka_error, "DescribeConsumerGroups: no answer for group " + group);
    group_description out;
    if (auto err = rd_kafka_ConsumerGroupDescription_error(descs[0])) {
      busy = coordinator_busy(rd_kafka_error_code(err));
      if (rd_kafka_error_code(err) != RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND)
        return make_error(errc::kafka_error, "DescribeConsumerGroups " + group + ": "
                                               + rd_kafka_error_string(err));
      out.exists = false;
      out.state = "Dead";
      return out;
    }
    auto state = rd_kafka_ConsumerGroupDescription_state(descs[0]);
    out.state = rd_kafka_consumer_group_state_name(state);
    out.exists = state != RD_KAFKA_CONSUMER_GROUP_STATE_DEAD;
    out.members = rd_kafka_ConsumerGroupDescription_member_count(descs[0]);
    return out;
  });
}

expected<std::map<partition_key, int64_t>>
committed_offsets(rd_kafka_t* rk, const std::string& group,
                  const std::vector<partition_key>& partitions, milliseconds timeout) {
  if (partitions.empty())
    return std::map<partition_key, int64_t>{};
  return until_coordinator_answers(timeout, [&](bool& busy)
                                               -> expected<std::map<partition_key, int64_t>> {
    std::map<partition_key, int64_t> out;
    auto xs = make_list(partitions);
    auto req = rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), xs.get());
    auto ev = admin_request(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS,
                            "ListConsumerGroupOffsets", timeout, [&](auto* opts, auto* q) {
                              rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, opts, q);
                            });
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    if (!ev)
      return ev.error();
    size_t n = 0;
    auto res = rd_kafka_event_ListConsumerGroupOffsets_result(ev->get());
    auto groups = res ? rd_kafka_ListConsumerGroupOffsets_result_groups(res, &n) : nullptr;
    if (n != 1)
      return make_error(errc::kafka_error, "ListConsumerGroupOffsets: no answer for " + group);
    busy = coordinator_busy(groups[0]);
    if (auto err = group_result_error(groups[0], "ListConsumerGroupOffsets " + group))
      return err;
    if (auto parts = rd_kafka_group_result_partitions(groups[0]))
      for (int i = 0; i < parts->cnt; ++i)
        if (parts->elems[i].offset >= 0)
          out[{parts->elems[i].topic, parts->elems[i].partition}] = parts->elems[i].offset;
    return out;
  });
}

expected<std::map<partition_key, watermarks>>
query_watermarks(rd_kafka_t* rk, const std::vector<partition_key>& partitions,
                 milliseconds timeout) {
  std::map<partition_key, watermarks> out;
  for (auto& key : partitions) {
    watermarks w;
    auto err = rd_kafka_query_watermark_offsets(rk, key.first.c_str(), key.second, &w.low,
                                                &w.high, static_cast<int>(timeout.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return make_error(err == RD_KAFKA_RESP_ERR__TIMED_OUT ? errc::broker_unreachable
                                                            : errc::kafka_error,
                        "watermarks of " + key.first + " [" + std::to_string(key.second)
                          + "]: " + rd_kafka_err2str(err));
    out[key] = w;
  }
  return out;
}

expected<std::map<partition_key, std::optional<int64_t>>>
offsets_for_time(rd_kafka_t* rk, const std::vector<partition_key>& partitions, int64_t ms,
                 milliseconds timeout) {
  auto xs = make_list(partitions);
  for (int i = 0; i < xs->cnt; ++i)
    xs->elems[i].offset = ms;
  auto err = rd_kafka_offsets_for_times(rk, xs.get(), static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return make_error(errc::kafka_error,
                      std::string{"offsets for a time: "} + rd_kafka_err2str(err));
  std::map<partition_key, std::optional<int64_t>> out;
  for (int i = 0; i < xs->cnt; ++i) {
    auto& e = xs->elems[i];
    if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return make_error(errc::kafka_error, std::string{"offsets for a time: "} + e.topic + " ["
                                             + std::to_string(e.partition)
                                             + "]: " + rd_kafka_err2str(e.err));
    out[{e.topic, e.partition}] = e.offset >= 0 ? std::optional<int64_t>{e.offset}
                                                : std::nullopt;
  }
  return out;
}

caf::error delete_topics(rd_kafka_t* rk, const std::vector<std::string>& topics,
                         milliseconds timeout) {
  if (topics.empty())
    return caf::none;
  std::vector<rd_kafka_DeleteTopic_t*> dels;
  for (auto& t : topics)
    dels.push_back(rd_kafka_DeleteTopic_new(t.c_str()));
  auto ev = admin_request(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS, "DeleteTopics", timeout,
                          [&](auto* opts, auto* q) {
                            rd_kafka_DeleteTopics(rk, dels.data(), dels.size(), opts, q);
                          });
  rd_kafka_DeleteTopic_destroy_array(dels.data(), dels.size());
  if (!ev)
    return ev.error();
  size_t n = 0;
  auto res = rd_kafka_event_DeleteTopics_result(ev->get());
  auto answers = res ? rd_kafka_DeleteTopics_result_topics(res, &n) : nullptr;
  for (size_t i = 0; i < n; ++i) {
    auto err = rd_kafka_topic_result_error(answers[i]);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      auto msg = rd_kafka_topic_result_error_string(answers[i]);
      return make_error(errc::kafka_error,
                        std::string{"DeleteTopics "} + rd_kafka_topic_result_name(answers[i])
                          + ": " + (msg ? msg : rd_kafka_err2str(err)));
    }
  }
  // Gone from the metadata, so that a worker started next creates them afresh.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto now_there = list_topics(rk, timeout);
    if (!now_there)
      return now_there.error();
    bool gone = true;
    for (auto& t : topics)
      gone = gone && now_there->count(t) == 0;
    if (gone)
      return caf::none;
    if (std::chrono::steady_clock::now() > deadline)
      return make_error(errc::timeout, "deleted topics still listed after "
                                         + std::to_string(timeout.count()) + " ms");
    std::this_thread::sleep_for(milliseconds{100});
  }
}

caf::error delete_group(rd_kafka_t* rk, const std::string& group, milliseconds timeout) {
  return until_coordinator_answers(timeout, [&](bool& busy) -> caf::error {
    auto del = rd_kafka_DeleteGroup_new(group.c_str());
    auto ev = admin_request(rk, RD_KAFKA_ADMIN_OP_DELETEGROUPS, "DeleteGroups", timeout,
                            [&](auto* opts, auto* q) {
                              rd_kafka_DeleteGroups(rk, &del, 1, opts, q);
                            });
    rd_kafka_DeleteGroup_destroy(del);
    if (!ev)
      return ev.error();
    size_t n = 0;
    auto res = rd_kafka_event_DeleteGroups_result(ev->get());
    auto groups = res ? rd_kafka_DeleteGroups_result_groups(res, &n) : nullptr;
    if (n != 1)
      return make_error(errc::kafka_error, "DeleteGroups: no answer for " + group);
    busy = coordinator_busy(groups[0]);
    if (auto err = rd_kafka_group_result_error(groups[0]);
        err != nullptr && rd_kafka_error_code(err) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND)
      return caf::none;
    return group_result_error(groups[0], "DeleteGroups " + group);
  });
}

caf::error alter_group_offsets(rd_kafka_t* rk, const std::string& group,
                               const std::map<partition_key, int64_t>& offsets,
                               milliseconds timeout) {
  if (offsets.empty())
    return caf::none;
  return until_coordinator_answers(timeout, [&](bool& busy) -> caf::error {
    list_ptr xs{rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()))};
    for (auto& [key, offset] : offsets)
      rd_kafka_topic_partition_list_add(xs.get(), key.first.c_str(), key.second)->offset = offset;
    auto req = rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), xs.get());
    auto ev = admin_request(rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS,
                            "AlterConsumerGroupOffsets", timeout, [&](auto* opts, auto* q) {
                              rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, opts, q);
                            });
    rd_kafka_AlterConsumerGroupOffsets_destroy(req);
    if (!ev)
      return ev.error();
    size_t n = 0;
    auto res = rd_kafka_event_AlterConsumerGroupOffsets_result(ev->get());
    auto groups = res ? rd_kafka_AlterConsumerGroupOffsets_result_groups(res, &n) : nullptr;
    if (n != 1)
      return make_error(errc::kafka_error, "AlterConsumerGroupOffsets: no answer for " + group);
    busy = coordinator_busy(groups[0]);
    return group_result_error(groups[0], "AlterConsumerGroupOffsets " + group);
  });
}

} // namespace mephisto::kafka
