// --actor-api: the handles of actor_api.hpp against their baselines, side by side in one
// run, in alternating rounds on one broker (embedded, or --broker kafka://host:port):
//   (a) raw librdkafka: produce `records` small records and wait until all are delivered;
//   (b) a topic writer: a user actor keeps `window` write requests unanswered and sends the
//       next one per answer (every record acknowledged by Kafka before it counts);
//   (c) a subscription from the beginning of that topic: records delivered per second;
// then table lookups of one colors worker: `worker::table_get` from a thread against a
// table reader asked by a user actor, one lookup after the other.
#include "actor_api_bench.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "bench_kit.hpp"
#include "colors_app.hpp"
#include "mephisto/kafka/admin.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/mephisto.hpp"
#include "mephisto/worker.hpp"

namespace bench {

namespace {

using next_atom = caf::atom_constant<caf::atom("next")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using writer_t = mephisto::topic_writer<std::string, std::string>;

/// (a) seconds to produce `n` records of `topic` with a bare producer until all delivered.
double raw_produce(const std::string& bootstrap, const std::string& topic, size_t n) {
  auto rk = client(RD_KAFKA_PRODUCER, bootstrap, producer_settings);
  auto rkt = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
  auto start = steady_clock::now();
  for (size_t i = 0; i < n; ++i) {
    auto key = "k" + std::to_string(i % 1000);
    produce_or_wait(rk.get(), rkt, RD_KAFKA_PARTITION_UA, key.data(), key.size(), "value", 5);
  }
  rd_kafka_flush(rk.get(), 120000);
  auto secs = duration<double>(steady_clock::now() - start).count();
  rd_kafka_topic_destroy(rkt);
  return secs;
}

/// (b) seconds for a user actor to write `n` records through `writer`: `batch` records
/// per request (`write_batch`; 1: single `write_request`s), `window` requests unanswered.
double writer_produce(caf::actor_system& sys, const writer_t& writer, size_t n, size_t batch,
                      size_t window) {
  caf::scoped_actor self{sys};
  auto start = steady_clock::now();
  sys.spawn([=, report = caf::actor{self}](caf::event_based_actor* a) -> caf::behavior {
    auto sent = std::make_shared<size_t>(0);
    auto acked = std::make_shared<size_t>(0);
    auto on_acked = [=](size_t records) {
      *acked += records;
      if (*acked == n) {
        a->send(report, done_atom::value);
        a->quit();
      } else {
        a->send(a, next_atom::value);
      }
    };
    auto on_error = [=](caf::error& err) {
      std::fprintf(stderr, "writer: %s\n", mephisto::render(err).c_str());
      a->quit(err);
    };
    // No per-request timeout: CAF 0.17 cancels one by a linear search over the actor's
    // pending timeouts.
    auto one = [=] {
      if (*sent == n)
        return;
      if (batch == 1) {
        auto key = "k" + std::to_string((*sent)++ % 1000);
        a->request(writer, caf::infinite,
                   mephisto::write_request<std::string, std::string>{key, "value"})
          .then([=](mephisto::record_position) { on_acked(1); }, on_error);
        return;
      }
      mephisto::write_batch<std::string, std::string> b;
      for (; b.records.size() < batch && *sent < n; ++*sent)
        b.records.emplace_back("k" + std::to_string(*sent % 1000), "value");
      a->request(writer, caf::infinite, std::move(b))
        .then([=](mephisto::batch_written w) { on_acked(w.records); }, on_error);
    };
    for (size_t i = 0; i < window; ++i)
      one();
    return {[=](next_atom) { one(); }};
  });
  self->receive([](done_atom) {});
  return duration<double>(steady_clock::now() - start).count();
}

/// (c) seconds until a subscription from the beginning of `topic` delivered `n` records.
template <class K, class V>
double subscription_rate(caf::actor_system& sys, mephisto::worker& w,
                         const mephisto::topic<K, V>& topic, size_t n) {
  caf::scoped_actor self{sys};
  auto start = steady_clock::now();
  auto sub = sys.spawn([=, report = caf::actor{self}](caf::event_based_actor*) -> caf::behavior {
    auto got = std::make_shared<size_t>(0);
    return {[=](mephisto::record_batch<K, V>& b) {
      *got += b.records.size();
      if (*got >= n && *got - b.records.size() < n)
        caf::anon_send(report, done_atom::value);
    }};
  });
  mephisto::subscription_options opts;
  opts.from = mephisto::subscribe_from::earliest;
  auto handle = w.subscribe(topic, sub, opts);
  if (!handle)
    throw std::runtime_error(mephisto::render(handle.error()));
  self->receive([](done_atom) {});
  auto secs = duration<double>(steady_clock::now() - start).count();
  caf::anon_send_exit(*handle, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(sub, caf::exit_reason::user_shutdown);
  return secs;
}

void print_percentiles(const char* what, std::vector<int64_t>& xs) {
  std::sort(xs.begin(), xs.end());
  auto pct = [&](double p) { return static_cast<long long>(xs[static_cast<size_t>(p * (xs.size() - 1))]); };
  std::printf("%s: %zu lookups  p50 %lld us  p99 %lld us\n", what, xs.size(), pct(0.5), pct(0.99));
}

/// Local lookups of the three colors on one worker: table_get from this thread, then a
/// table reader asked by an event-based user actor, `n` of each per color.
void lookups(caf::actor_system& sys, mephisto::worker& w,
             const mephisto::table<std::string, std::int64_t>& counts, int n) {
  std::vector<int64_t> blocking;
  for (std::string color : {"red", "green", "blue"})
    for (int i = 0; i < n; ++i) {
      auto start = steady_clock::now();
      auto v = w.table_get("colors-count", color);
      blocking.push_back(duration_cast<microseconds>(steady_clock::now() - start).count());
      if (!v || !v->has_value())
        throw std::runtime_error("table_get of " + color + " failed");
    }
  auto reader = w.reader(counts);
  if (!reader)
    throw std::runtime_error(mephisto::render(reader.error()));
  auto typed = std::make_shared<std::vector<int64_t>>();
  caf::scoped_actor self{sys};
  sys.spawn([=, r = *reader, report = caf::actor{self}](caf::event_based_actor* a) -> caf::behavior {
    auto i = std::make_shared<int>(0);
    auto ask = [=] {
      static const std::string colors[] = {"red", "green", "blue"};
      auto start = steady_clock::now();
      a->request(r, std::chrono::seconds(10), mephisto::get_request<std::string>{colors[*i % 3]})
        .then(
          [=](std::optional<std::int64_t>& v) {
            typed->push_back(duration_cast<microseconds>(steady_clock::now() - start).count());
            if (!v)
              throw std::runtime_error("a typed lookup found nothing");
            if (++*i == 3 * n) {
              a->send(report, done_atom::value);
              a->quit();
            } else {
              a->send(a, next_atom::value);
            }
          },
          [=](caf::error& err) { a->quit(err); });
    };
    ask();
    return {[=](next_atom) { ask(); }};
  });
  self->receive([](done_atom) {});
  print_percentiles("table_get (blocking, a thread)", blocking);
  print_percentiles("table reader (typed, an actor)", *typed);
}

} // namespace

int actor_api_bench(const std::string& url, size_t records, int rounds, size_t window,
                    int threads) {
  mephisto::app app{"colors"};
  colors::declare(app);
  mephisto::worker_options opts;
  opts.id = "colors-api-" + std::to_string(::getpid());
  opts.threads = threads;
  opts.cluster_secret = "bench";
  opts.log_level = "warn";
  opts.table_standby_replicas = 0;
  opts.web_listen = "off";
  // The writers write each round's own topic, declared by a second app.
  mephisto::app sink{"sink"};
  std::vector<mephisto::topic<std::string, std::string>> writer_topics;
  for (int r = 0; r < rounds; ++r)
    writer_topics.push_back(sink.topic<std::string>("api-writer-" + std::to_string(r)));
  sink.agent("none", writer_topics[0], [](const std::string&, mephisto::context&) {});
  auto sink_opts = opts;
  sink_opts.id = opts.id + "-sink";
  sink_opts.cluster_listen = "off";
  std::unique_ptr<mephisto::kafka::embedded_broker> embedded;
  std::vector<mephisto::kafka::topic_spec> topics;
  for (auto topo : {app.resolve(opts), sink.resolve(sink_opts)})
    for (auto& spec : topo->topic_specs(8)) {
      spec.partitions = 8;
      spec.create = true;
      topics.push_back(spec);
    }
  for (int r = 0; r < rounds; ++r)
    topics.push_back({"api-raw-" + std::to_string(r), 8, true, false});
  opts.broker = "kafka://" + connect(url, embedded, topics);
  sink_opts.broker = opts.broker;
  auto bootstrap = opts.broker.substr(8);
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", threads);
  if (auto err = mephisto::configure(cfg, opts))
    throw std::runtime_error(mephisto::render(err));
  caf::actor_system sys{cfg};
  mephisto::worker w{sys, app, opts};
  if (auto err = w.start())
    throw std::runtime_error(mephisto::render(err));
  mephisto::worker sink_worker{sys, sink, sink_opts};
  if (auto err = sink_worker.start())
    throw std::runtime_error(mephisto::render(err));
  std::printf("actor API: %zu records of 10 bytes per round; (b) batches of 1000, %zu unanswered; "
              "(b') a tenth as many single requests, 100 unanswered; %s broker, "
              "%u cores, %d scheduler threads\n",
              records, window, embedded ? "embedded" : "real", std::thread::hardware_concurrency(),
              threads);
  std::vector<double> ratios;
  for (int r = 0; r < rounds; ++r) {
    auto raw = records / raw_produce(bootstrap, "api-raw-" + std::to_string(r), records);
    auto writer = sink_worker.writer(writer_topics[r], 100000);
    if (!writer)
      throw std::runtime_error(mephisto::render(writer.error()));
    auto typed = records / writer_produce(sys, *writer, records, 1000, window);
    auto single = records / 10 / writer_produce(sys, *writer, records / 10, 1, 100);
    auto sub = records / subscription_rate(sys, sink_worker, writer_topics[r], records);
    ratios.push_back(typed / raw);
    std::printf("round %d: (a) raw produce %9.0f rec/s  (b) writer batches %9.0f rec/s  b/a = %.2f"
                "  (b') single requests %7.0f rec/s  (c) subscription %9.0f rec/s\n",
                r + 1, raw, typed, typed / raw, single, sub);
    std::fflush(stdout);
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("median b/a = %.2f (goal >= 0.7)\n", ratios[ratios.size() / 2]);
  // Lookups: fill the table through the pipeline first.
  produce_words(bootstrap, "input", 30000, 8);
  auto counts = mephisto::table<std::string, std::int64_t>{0, "colors-count"};
  std::this_thread::sleep_for(std::chrono::seconds(3));
  lookups(sys, w, counts, 2000);
  sink_worker.stop();
  sink_worker.wait();
  w.stop();
  w.wait();
  return 0;
}

} // namespace bench
