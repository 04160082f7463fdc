// `app::main`: the command line of every app (worker, broker, send, topics, tables, agents,
// lag, reset, table get). It runs a worker, so it lives in the layer above the actors, not
// with the declarations.
#include "mephisto/app.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>

#include "mephisto/cluster_client.hpp"
#include "mephisto/kafka/admin.hpp"
#include "mephisto/kafka/config.hpp"
#include "mephisto/kafka/embedded_broker.hpp"
#include "mephisto/log.hpp"
#include "mephisto/worker.hpp"

#include "client_properties_cli.hpp"
#include "group_commands.hpp"
#include "topology_commands.hpp"
#include "worker_options_cli.hpp"

namespace mephisto {

namespace {

/// Blocks SIGINT and SIGTERM in this thread and every thread it starts afterwards, so
/// that `wait_for_signal` gets them.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

/// Waits for SIGINT/SIGTERM, or until `done` is set. Returns true on a signal.
bool wait_for_signal(const sigset_t& set, const std::atomic<bool>& done) {
  timespec tick{0, 100'000'000};
  while (!done.load()) {
    if (sigtimedwait(&set, nullptr, &tick) > 0)
      return true;
  }
  return false;
}

int run_worker(const app& a, const worker_options& opts) {
  auto signals = block_stop_signals();
  worker w{a.resolve(opts), opts};
  if (auto err = w.start()) {
    std::cerr << "error: " << render(err) << '\n';
    return 1;
  }
  std::atomic<bool> done{false};
  std::thread watcher{[&] {
    if (wait_for_signal(signals, done)) {
      log().info("stop requested: draining and committing");
      w.stop();
    }
  }};
  auto err = w.wait();
  done = true;
  watcher.join();
  if (err) {
    std::cerr << "error: " << render(err) << '\n';
    return 1;
  }
  return 0;
}

int run_broker(const app& a, const worker_options& opts) {
  auto signals = block_stop_signals();
  auto topo = a.resolve(opts);
  kafka::embedded_broker broker;
  if (auto err = broker.start()) {
    std::cerr << "error: " << render(err) << '\n';
    return 1;
  }
  for (auto& spec : topo->topic_specs(opts.topic_partitions)) {
    auto n = spec.partitions > 0 ? spec.partitions : opts.topic_partitions;
    if (auto err = broker.create_topic(spec.name, n)) {
      std::cerr << "error: " << render(err) << '\n';
      return 1;
    }
    log().info("topic {} ({} partitions)", spec.name, n);
  }
  if (!opts.bootstrap_file.empty())
    broker.publish_url(opts.bootstrap_file);
  std::cout << broker.url() << std::endl;
  log().info("embedded broker for app {} up: --broker {} (kcat -b {}); Ctrl-C stops it",
             topo->app_id, broker.url(), broker.bootstrap());
  std::atomic<bool> never{false};
  wait_for_signal(signals, never);
  log().info("embedded broker stopping");
  return 0;
}

int run_send(const app& a, const worker_options& opts, const std::string& topic,
             const std::string& value, const std::string* key) {
  if (opts.broker == "embedded") {
    std::cerr << "error: send needs a running broker: --broker kafka://host:port\n";
    return 1;
  }
  auto bootstrap = kafka::parse_broker_url(opts.broker);
  if (!bootstrap) {
    std::cerr << "error: " << render(bootstrap.error()) << '\n';
    return 1;
  }
  auto topo = a.resolve(opts);
  auto kafka_name = topic;
  for (auto& t : topo->topics)
    if (t.name == topic)
      kafka_name = t.kafka_name;
  if (auto err = kafka::check_client_properties(opts.client_properties)) {
    std::cerr << "error: " << render(err) << '\n';
    return 1;
  }
  auto conf = kafka::make_conf(kafka::with_client_properties(
    {{"bootstrap.servers", *bootstrap},
     {"partitioner", "murmur2_random"},
     {"enable.idempotence", "true"},
     {"message.timeout.ms", std::to_string(opts.startup_timeout_ms)}},
    opts.client_properties, kafka::client_kind::producer));
  if (!conf) {
    std::cerr << "error: " << render(conf.error()) << '\n';
    return 1;
  }
  auto rk = kafka::make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!rk) {
    std::cerr << "error: " << render(rk.error()) << '\n';
    return 1;
  }
  auto topics = kafka::list_topics(rk->get(), std::chrono::milliseconds(opts.startup_timeout_ms));
  if (!topics) {
    std::cerr << "error: " << render(topics.error()) << '\n';
    return 1;
  }
  if (topics->count(kafka_name) == 0) {
    std::cerr << "error: topic " << kafka_name << " does not exist\n";
    return 1;
  }
  auto err = rd_kafka_producev(
    rk->get(), RD_KAFKA_V_TOPIC(kafka_name.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
    RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
    RD_KAFKA_V_KEY(key ? key->data() : nullptr, key ? key->size() : 0), RD_KAFKA_V_END);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
    err = rd_kafka_flush(rk->get(), opts.startup_timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || rd_kafka_outq_len(rk->get()) > 0) {
    std::cerr << "error: cannot send to " << kafka_name << ": " << rd_kafka_err2str(err) << '\n';
    return 1;
  }
  return 0;
}

} // namespace

int app::main(int argc, char** argv) {
  worker_options opts;
  CLI::App cli{"Mephisto app " + topo_->app_id + ": stream processing on Kafka with CAF actors",
               topo_->app_id};
  auto config = cli.set_config("--config", "", "read options from a TOML/INI file (key = value)");
  cli.allow_config_extras(true); // the client properties; other unknown keys: see below
  cli.require_subcommand(1);
  cli.footer("Kafka client properties: --kafka.<librdkafka property> VALUE reaches every "
             "client, --consumer.<property> and --producer.<property> one kind (also as "
             "MEPHISTO_KAFKA_<PROPERTY> with _ for . and in the config file).");
  auto known = add_worker_options(cli, opts);
  auto worker_cmd = cli.add_subcommand("worker", "run a worker (Ctrl-C stops it cleanly)");
  auto broker_cmd = cli.add_subcommand(
    "broker", "run an embedded (mock) Kafka broker with this app's topics; prints its URL");
  auto send_cmd = cli.add_subcommand("send", "send one record to a topic");
  std::string send_topic;
  std::string send_value;
  std::string send_key;
  send_cmd->add_option("topic", send_topic, "topic (declared name or Kafka name)")->required();
  send_cmd->add_option("value", send_value, "the value, as raw bytes")->required();
  auto key_opt = send_cmd->add_option("--key,-k", send_key, "the key");
  auto topics_cmd = cli.add_subcommand(
    "topics", "the app's topics on Kafka: names, partitions (and the broker's, with --broker)");
  auto tables_cmd = cli.add_subcommand("tables", "the app's tables: changelogs, partitions, agents");
  auto agents_cmd = cli.add_subcommand("agents", "the app's agents: source topics, tables");
  auto lag_cmd = cli.add_subcommand(
    "lag", "the consumer group's lag per partition of every source topic (real broker)");
  bool lag_json = false;
  lag_cmd->add_flag("--json", lag_json, "one JSON object instead of a table");
  auto reset_cmd = cli.add_subcommand(
    "reset", "back to the start: delete internal topics, changelogs and local stores, source "
             "offsets to the earliest (or a time); refused while a worker runs (real broker)");
  reset_request reset_req;
  std::string reset_datetime;
  reset_cmd->add_flag("--dry-run", reset_req.dry_run, "print what it would do, change nothing");
  auto to_datetime = reset_cmd->add_option(
    "--to-datetime", reset_datetime,
    "source offsets to the first record at or after this time, e.g. 2026-12-01T10:00:00Z");
  int64_t reset_timestamp = 0;
  auto to_timestamp = reset_cmd->add_option(
    "--to-timestamp", reset_timestamp, "source offsets to this time, Unix milliseconds");
  to_datetime->excludes(to_timestamp);
  reset_cmd->add_flag("--include-dead-letter", reset_req.include_dead_letter,
                      "delete the dead-letter topic too (default: kept)");
  auto table_cmd = cli.add_subcommand("table", "ask a running cluster about a table");
  table_cmd->require_subcommand(1);
  auto get_cmd = table_cmd->add_subcommand(
    "get", "the value of a key, from the instance that holds its partition");
  std::string get_table;
  std::string get_key;
  std::string get_peer;
  get_cmd->add_option("table", get_table, "table name as declared")->required();
  get_cmd->add_option("key", get_key, "the key, encoded (raw text for string keys)")->required();
  get_cmd->add_option("--peer", get_peer, "a worker's cluster address, host:port")->required();
  for (auto* sub : {worker_cmd, broker_cmd, send_cmd, topics_cmd, tables_cmd, agents_cmd,
                    lag_cmd, reset_cmd, table_cmd, get_cmd})
    sub->fallthrough();
  client_properties from_flags;
  std::string bad_flag;
  auto args = take_client_property_flags(argc, argv, from_flags, bad_flag);
  if (!bad_flag.empty()) {
    std::cerr << "error: " << bad_flag << '\n';
    return 2;
  }
  try {
    cli.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::ParseError& e) {
    return cli.exit(e);
  }
  if (!check_environment(known.env_names))
    return 2;
  // Client properties: the config file's, then the environment's, then the flags' win.
  if (config->count() > 0) {
    std::string error;
    if (!read_client_property_file(config->as<std::string>(), known.keys,
                                   opts.client_properties, error)) {
      std::cerr << "error: " << error << '\n';
      return 2;
    }
  }
  read_client_property_env(opts.client_properties);
  for (auto& [key, value] : from_flags)
    opts.client_properties[key] = value;
  if (!set_log_level(opts.log_level)) {
    std::cerr << "error: log_level '" << opts.log_level << "' is unknown\n";
    return 2;
  }
  if (*worker_cmd)
    return run_worker(*this, opts);
  if (*broker_cmd)
    return run_broker(*this, opts);
  for (auto [cmd, what] : {std::pair{topics_cmd, topology_listing::topics},
                           std::pair{tables_cmd, topology_listing::tables},
                           std::pair{agents_cmd, topology_listing::agents}}) {
    if (*cmd) {
      if (auto err = print_topology(*resolve(opts), opts, what, std::cout)) {
        std::cerr << "error: " << render(err) << '\n';
        return 1;
      }
      return 0;
    }
  }
  if (*lag_cmd || *reset_cmd) {
    if (opts.broker == "embedded") {
      std::cerr << "error: " << (*lag_cmd ? "lag" : "reset")
                << " needs a real broker: --broker kafka://host:port (the embedded broker "
                   "lives only inside a worker)\n";
      return 2;
    }
    if (*reset_cmd && to_datetime->count() > 0) {
      auto ms = parse_datetime(reset_datetime);
      if (!ms) {
        std::cerr << "error: --to-datetime: " << render(ms.error()) << '\n';
        return 2;
      }
      reset_req.to_timestamp = *ms;
    } else if (*reset_cmd && to_timestamp->count() > 0) {
      reset_req.to_timestamp = reset_timestamp;
    }
    auto topo = resolve(opts);
    caf::error err;
    if (*lag_cmd) {
      auto lag = read_lag(*topo, opts);
      if (lag)
        print_lag(*lag, lag_json, std::cout);
      else
        err = lag.error();
    } else {
      err = run_reset(*topo, opts, reset_req, std::cout);
    }
    if (err) {
      std::cerr << "error: " << render(err) << '\n';
      return 1;
    }
    return 0;
  }
  if (*table_cmd) {
    auto value = remote_table_get(get_peer, opts, get_table, get_key,
                                  std::chrono::milliseconds(opts.cluster_timeout_ms * 2));
    if (!value) {
      std::cerr << "error: " << render(value.error()) << '\n';
      return 1;
    }
    if (!*value) {
      std::cerr << "no value for key " << get_key << " in table " << get_table << '\n';
      return 3;
    }
    std::cout << **value << std::endl;
    return 0;
  }
  return run_send(*this, opts, send_topic, send_value, key_opt->count() ? &send_key : nullptr);
}

} // namespace mephisto
