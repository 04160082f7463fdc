// The worker's web server on the embedded broker: /metrics against stats(), /ready across
// a 1M-record table recovery, table views from either instance, the bearer token, and
// the errors (bad table, bad key, port in use).

#include <map>
#include <string>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "colors_app.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/worker.hpp"
#include "support/http_client.hpp"
#include "support/testkit.hpp"

using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

mephisto::worker_options web_options(const std::string& broker) {
  mephisto::worker_options opts;
  opts.broker = broker;
  opts.threads = 2;
  opts.commit_interval_ms = 200;
  opts.log_level = "warn";
  opts.web_listen = "127.0.0.1:0";
  opts.table_standby_replicas = 0;
  return opts;
}

json::value get_json(const std::string& address, const std::string& target, int& status,
                     const std::string& authorization = {}) {
  auto res = testkit::http_get(address, target, authorization);
  EXPECT_EQ(res.error, "") << target;
  status = res.status;
  EXPECT_EQ(res.content_type, "application/json") << target;
  return json::parse(res.body);
}

std::map<std::string, double> scrape(const std::string& address) {
  auto res = testkit::http_get(address, "/metrics");
  EXPECT_EQ(res.status, 200) << res.error;
  EXPECT_NE(res.content_type.find("text/plain"), std::string::npos);
  return testkit::parse_metrics(res.body);
}

double metric(const std::map<std::string, double>& page, const std::string& series) {
  auto i = page.find(series);
  EXPECT_NE(i, page.end()) << "no series " << series;
  return i == page.end() ? -1 : i->second;
}

/// Every counter of the page against the worker's stats, once the worker is idle.
void expect_page_matches_stats(const std::map<std::string, double>& page,
                               const mephisto::worker_stats& s) {
  const std::string app = "{app=\"colors\"}";
  EXPECT_EQ(metric(page, "mephisto_events_total" + app), s.events.load());
  EXPECT_EQ(metric(page, "mephisto_batches_total" + app), s.batches.load());
  EXPECT_EQ(metric(page, "mephisto_sent_total" + app), s.sent.load());
  EXPECT_EQ(metric(page, "mephisto_dead_letters_total" + app), s.dead_letters.load());
  EXPECT_EQ(metric(page, "mephisto_commits_total" + app), s.commits.load());
  EXPECT_EQ(metric(page, "mephisto_rebalances_total" + app), s.rebalances.load());
  EXPECT_EQ(metric(page, "mephisto_assigned_partitions" + app), s.assigned.load());
  EXPECT_EQ(metric(page, "mephisto_produce_errors_total" + app), s.produce_errors.load());
  double per_agent = metric(page, "mephisto_agent_events_total{app=\"colors\",agent=\"filter_colors\"}")
                     + metric(page, "mephisto_agent_events_total{app=\"colors\",agent=\"colors_count\"}");
  EXPECT_EQ(per_agent, s.events.load());
  // Every event's latency and every batch's duration are counted once.
  EXPECT_EQ(metric(page, "mephisto_event_latency_seconds_count" + app), s.events.load());
  EXPECT_EQ(metric(page, "mephisto_batch_duration_seconds_count" + app), s.batches.load());
  EXPECT_EQ(metric(page, "mephisto_event_latency_seconds_bucket{app=\"colors\",le=\"+Inf\"}"),
            s.events.load());
}

} // namespace

TEST(web, metrics_rise_with_a_colors_run_and_equal_the_stats) {
  mephisto::app app{"colors"};
  colors::declare(app);
  auto opts = web_options("embedded");
  mephisto::worker w{app.resolve(opts), opts};
  ASSERT_FALSE(w.start());
  ASSERT_NE(w.web_address(), "");
  auto words = testkit::make_words(40'000, 7);
  auto idle_at = [&](uint64_t events) {
    return testkit::eventually([&] { return w.stats().events.load() == events; }, 60s);
  };
  // First half: input words plus the color words the second agent counts.
  std::vector<std::string> first(words.words.begin(), words.words.begin() + 20'000);
  std::vector<std::string> second(words.words.begin() + 20'000, words.words.end());
  size_t first_colors = 0;
  for (auto& word : first)
    if (word == "red" || word == "green" || word == "blue")
      ++first_colors;
  testkit::produce(w.bootstrap(), "input", first);
  ASSERT_TRUE(idle_at(first.size() + first_colors));
  std::this_thread::sleep_for(500ms); // the last commit
  auto page1 = scrape(w.web_address());
  expect_page_matches_stats(page1, w.stats());
  testkit::produce(w.bootstrap(), "input", second);
  ASSERT_TRUE(idle_at(words.words.size() + words.color_words));
  std::this_thread::sleep_for(500ms);
  auto page2 = scrape(w.web_address());
  expect_page_matches_stats(page2, w.stats());
  const std::string app_label = "{app=\"colors\"}";
  EXPECT_GT(metric(page2, "mephisto_events_total" + app_label),
            metric(page1, "mephisto_events_total" + app_label));
  EXPECT_EQ(metric(page2, "mephisto_events_total" + app_label),
            double(words.words.size() + words.color_words));
  EXPECT_GT(metric(page2, "mephisto_commit_duration_seconds_count" + app_label), 0);
  EXPECT_GT(metric(page2, "mephisto_rebalance_duration_seconds_count" + app_label), 0);
  // Lag per assigned input partition (refreshed every second): nothing left to process.
  auto input_lag = [&](const std::map<std::string, double>& page) {
    double sum = 0;
    for (int p = 0; p < 8; ++p)
      sum += metric(page, "mephisto_consumer_lag{app=\"colors\",topic=\"input\",partition=\""
                            + std::to_string(p) + "\"}");
    return sum;
  };
  EXPECT_TRUE(testkit::eventually([&] { return input_lag(scrape(w.web_address())) == 0; }, 30s))
    << "input lag " << input_lag(scrape(w.web_address()));
  int status = 0;
  auto health = get_json(w.web_address(), "/health", status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(health.at("status"), "ok");
  auto ready = get_json(w.web_address(), "/ready", status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(ready.at("ready"), true);
  w.stop();
  EXPECT_FALSE(w.wait());
}

TEST(web, ready_turns_from_503_to_200_across_a_1M_record_recovery) {
  mephisto::kafka::embedded_broker broker;
  ASSERT_FALSE(broker.start());
  const std::string changelog = "colors-colors-count-changelog";
  // Every topic, as the embedded broker serves no CreateTopics to a worker that is not
  // its host.
  for (auto topic :
       {"input", "output", "colors-colors_topic", "colors-dead-letter", changelog.c_str()})
    ASSERT_FALSE(broker.create_topic(topic, 8));
  const size_t records = 1'000'000;
  std::vector<std::pair<std::string, std::string>> rows;
  rows.reserve(records);
  for (size_t i = 0; i < records; ++i)
    rows.emplace_back("key-" + std::to_string(i % 200'000), std::to_string(i / 200'000 + 1));
  testkit::produce_keyed(broker.bootstrap(), changelog, rows);
  mephisto::app app{"colors"};
  colors::declare(app);
  auto opts = web_options(broker.url());
  mephisto::worker w{app.resolve(opts), opts};
  auto started = w.start();
  ASSERT_FALSE(started) << mephisto::render(started);
  bool saw_recovering = false;
  int64_t most_remaining = 0;
  bool ready = testkit::eventually(
    [&] {
      int status = 0;
      auto body = get_json(w.web_address(), "/ready", status);
      if (status == 503 && body.at("running").as_int64() < body.at("assigned").as_int64()) {
        saw_recovering = true;
        most_remaining = std::max(most_remaining, body.at("restore_remaining").as_int64());
      }
      return status == 200;
    },
    120s);
  EXPECT_TRUE(ready);
  EXPECT_TRUE(saw_recovering);
  EXPECT_GT(most_remaining, 0);
  int status = 0;
  auto body = get_json(w.web_address(), "/ready", status);
  EXPECT_EQ(body.at("assigned").as_int64(), 16); // input and the internal colors topic
  EXPECT_EQ(body.at("running").as_int64(), 16);
  EXPECT_EQ(body.at("restore_remaining").as_int64(), 0);
  EXPECT_EQ(w.stats().restored_records.load(), records);
  // The table view gives the restored value, as JSON.
  auto value = get_json(w.web_address(), "/tables/colors-count/key-7", status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(value.at("value"), 5);
  w.stop();
  EXPECT_FALSE(w.wait());
}

TEST(web, table_views_token_and_errors_from_either_instance) {
  mephisto::app app{"colors"};
  colors::declare(app);
  auto opts_a = web_options("embedded");
  opts_a.web_token = "s3cret-token";
  opts_a.cluster_secret = "cluster-pass";
  opts_a.client_properties["kafka.sasl.password"] = "never-shown";
  mephisto::worker a{app.resolve(opts_a), opts_a};
  ASSERT_FALSE(a.start());
  auto opts_b = web_options("kafka://" + a.bootstrap());
  opts_b.web_token = opts_a.web_token;
  opts_b.cluster_secret = opts_a.cluster_secret;
  opts_b.cluster_seeds = a.cluster_address();
  mephisto::worker b{app.resolve(opts_b), opts_b};
  ASSERT_FALSE(b.start());
  // The group settles first: this test is about the views, and a commit the mock broker
  // refuses mid-rebalance (stale generation) makes at-least-once process events again.
  ASSERT_TRUE(testkit::eventually(
    [&] {
      auto in_a = a.stats().assigned.load();
      auto in_b = b.stats().assigned.load();
      return in_a > 0 && in_b > 0 && in_a + in_b == 16 && !a.stats().rebalancing
             && !b.stats().rebalancing;
    },
    60s));
  auto words = testkit::make_words(20'000, 3);
  testkit::produce(a.bootstrap(), "input", words.words);
  auto output = testkit::consume(a.bootstrap(), "output", words.color_words, 90s);
  testkit::expect_exact_running_counts(output, words.colors);
  const std::string auth = "Bearer s3cret-token";
  // The token is enforced on every page.
  for (auto target : {"/metrics", "/ready", "/tables/colors-count/red", "/topology"}) {
    EXPECT_EQ(testkit::http_get(a.web_address(), target).status, 401) << target;
    EXPECT_EQ(testkit::http_get(a.web_address(), target, "Bearer wrong").status, 401) << target;
    EXPECT_NE(testkit::http_get(a.web_address(), target, auth).status, 401) << target;
  }
  // Each color's count, decoded to a JSON number, from either instance (the cluster routes
  // to the holder; both hold partitions once the group settled).
  for (auto* w : {&a, &b}) {
    for (auto& [color, n] : words.colors) {
      int status = 0;
      json::value body;
      ASSERT_TRUE(testkit::eventually(
        [&] {
          body = get_json(w->web_address(), "/tables/colors-count/" + color, status, auth);
          return status == 200;
        },
        30s))
        << json::serialize(body);
      EXPECT_EQ(body.at("value"), n) << color;
      EXPECT_EQ(body.at("key").as_string(), color);
    }
  }
  int status = 0;
  auto missing = get_json(a.web_address(), "/tables/colors-count/purple", status, auth);
  EXPECT_EQ(status, 404);
  EXPECT_EQ(missing.at("error"), "no value");
  get_json(a.web_address(), "/tables/no-such-table/red", status, auth);
  EXPECT_EQ(status, 404);
  get_json(a.web_address(), "/tables/colors-count/bad%zz", status, auth);
  EXPECT_EQ(status, 404);
  get_json(a.web_address(), "/nothing-here", status, auth);
  EXPECT_EQ(status, 404);
  // The declared app; no secret in it.
  auto topo = testkit::http_get(a.web_address(), "/topology", auth);
  EXPECT_EQ(topo.status, 200);
  EXPECT_EQ(topo.body.find("never-shown"), std::string::npos);
  EXPECT_EQ(topo.body.find("s3cret-token"), std::string::npos);
  EXPECT_EQ(topo.body.find("cluster-pass"), std::string::npos);
  auto tables = get_json(a.web_address(), "/tables", status, auth);
  ASSERT_EQ(tables.as_array().size(), 1u);
  EXPECT_EQ(tables.at(0).at("changelog"), "colors-colors-count-changelog");
  EXPECT_EQ(tables.at(0).at("partitions"), 8);
  auto agents = get_json(a.web_address(), "/agents", status, auth);
  EXPECT_EQ(agents.as_array().size(), 2u);
  // A third worker on a's web port does not start, and says why.
  auto opts_c = web_options("kafka://" + a.bootstrap());
  opts_c.web_listen = a.web_address();
  mephisto::worker c{app.resolve(opts_c), opts_c};
  auto err = c.start();
  ASSERT_TRUE(err);
  EXPECT_TRUE(mephisto::is(err, mephisto::errc::bad_config)) << mephisto::render(err);
  b.stop();
  EXPECT_FALSE(b.wait());
  a.stop();
  EXPECT_FALSE(a.wait());
}
