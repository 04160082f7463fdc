#pragma once

// The embedding suite's apps and helpers (embedding_test.cpp, embedding_ask_test.cpp):
// Mephisto inside a user's own actor system, on an embedded broker in the test process.

#include <chrono>
#include <algorithm>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <caf/all.hpp>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/mephisto.hpp"
#include "mephisto/worker.hpp"
#include "support/testkit.hpp"

using namespace std::chrono_literals;

namespace embedding_suite {

using word_writer = mephisto::topic_writer<std::string, std::string>;
using word_request = mephisto::write_request<std::string, std::string>;
using count_batch = mephisto::record_batch<std::string, std::int64_t>;
using hold_atom = caf::atom_constant<caf::atom("hold")>;
using release_atom = caf::atom_constant<caf::atom("release")>;

/// The colors app; `out` and `counts` give its output topic and table.
struct colors_app {
  mephisto::app app{"embedding"};
  mephisto::topic<std::string, std::string> input = app.topic<std::string>("input");
  mephisto::topic<std::string, std::string> colors
    = app.topic<std::string>("colors_topic", {.internal = true});
  mephisto::topic<std::string, std::int64_t> out = app.topic<std::string, std::int64_t>("output");
  mephisto::table<std::string, std::int64_t> counts
    = app.table<std::string, std::int64_t>("colors-count");

  colors_app() {
    auto colors_topic = colors;
    auto output = out;
    auto table = counts;
    app.agent("filter_colors", input, [=](const std::string& word, mephisto::context& ctx) {
      if (word == "red" || word == "green" || word == "blue")
        ctx.send(colors_topic, word, word);
    });
    app.agent("colors_count", colors, [=](const std::string& color, mephisto::context& ctx) {
        ctx.send(output, color, ++ctx[table][color]);
      }, {.tables = {table}});
  }
};

inline mephisto::worker_options options(const std::string& broker) {
  mephisto::worker_options opts;
  opts.broker = broker;
  opts.web_listen = "off";
  opts.log_level = "warn";
  opts.commit_interval_ms = 200;
  opts.cluster_secret = "s3cret";
  opts.table_standby_replicas = 0;
  return opts;
}

/// An embedded broker with every topic of `app`.
inline std::unique_ptr<mephisto::kafka::embedded_broker> broker_for(const mephisto::app& app,
                                                             const mephisto::worker_options& opts) {
  auto broker = std::make_unique<mephisto::kafka::embedded_broker>();
  EXPECT_FALSE(broker->start());
  for (auto& spec : app.resolve(opts)->topic_specs(opts.topic_partitions))
    EXPECT_FALSE(broker->create_topic(spec.name, spec.partitions > 0 ? spec.partitions : 8));
  return broker;
}

/// The user's system: two scheduler threads of its own choosing, plus Mephisto's needs.
inline std::unique_ptr<caf::actor_system_config> user_config(const mephisto::worker_options& opts) {
  auto cfg = std::make_unique<caf::actor_system_config>();
  cfg->set("scheduler.max-threads", 2);
  EXPECT_FALSE(mephisto::configure(*cfg, opts));
  return cfg;
}

/// A user actor that answers `get` with how often it was asked.
inline caf::behavior counter_actor(caf::event_based_actor*) {
  auto asked = std::make_shared<int>(0);
  return {[=](caf::get_atom) { return ++*asked; }};
}

/// Writes `words` through `writer`, waiting for every answer; returns how many succeeded.
inline size_t write_all(caf::scoped_actor& self, const word_writer& writer,
                 const std::vector<std::string>& words) {
  size_t ok = 0;
  for (auto& w : words)
    self->request(writer, 20s, word_request{w, w})
      .receive([&](mephisto::record_position pos) { ok += pos.offset >= 0 ? 1 : 0; },
               [&](caf::error& err) { ADD_FAILURE() << mephisto::render(err); });
  return ok;
}

/// The lifecycle events an actor received, readable from the test's thread.
struct event_log {
  std::mutex mtx;
  std::vector<mephisto::lifecycle_event> events;

  size_t count(mephisto::lifecycle_event::kind k) {
    std::lock_guard<std::mutex> guard{mtx};
    return std::count_if(events.begin(), events.end(), [k](auto& e) { return e.what == k; });
  }

  std::vector<mephisto::lifecycle_event> copy() {
    std::lock_guard<std::mutex> guard{mtx};
    return events;
  }
};

inline caf::behavior event_collector(caf::event_based_actor*, std::shared_ptr<event_log> log) {
  return {[=](mephisto::lifecycle_event& ev) {
    std::lock_guard<std::mutex> guard{log->mtx};
    log->events.push_back(std::move(ev));
  }};
}

using testkit::eventually;

/// One worker of the colors app (cluster off) in a user's actor system, on an embedded
/// broker of its own; not started. Members end in reverse order: the worker first.
struct one_worker {
  colors_app c;
  mephisto::worker_options opts = options("embedded");
  std::unique_ptr<mephisto::kafka::embedded_broker> broker;
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<mephisto::worker> w;

  one_worker() {
    opts.cluster_listen = "off";
    broker = broker_for(c.app, opts);
    opts.broker = broker->url();
    cfg = user_config(opts);
    sys = std::make_unique<caf::actor_system>(*cfg);
    w = std::make_unique<mephisto::worker>(*sys, c.app, opts);
  }
};

} // namespace embedding_suite
