#include "web/web_views.hpp"

#include <boost/json.hpp>

#include "mephisto/kafka/config.hpp"
#include "web/metrics_page.hpp"

namespace mephisto::web {

namespace {

namespace json = boost::json;

http_response json_answer(unsigned status, const json::value& body) {
  return {status, "application/json", json::serialize(body), {}};
}

http_response error_answer(unsigned status, const std::string& what) {
  return json_answer(status, json::object{{"error", what}});
}

/// Decodes `%XX` escapes (and nothing else: `+` stays, as in a path). False on a bad escape.
bool percent_decode(std::string_view in, std::string& out) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  };
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size())
      return false;
    int hi = hex(in[i + 1]);
    int lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0)
      return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

/// Compares without an early exit, so that the time taken does not tell how much matched.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

int32_t partitions_of(const std::vector<int32_t>& found, size_t index, int32_t declared) {
  return index < found.size() ? found[index] : declared;
}

json::array tables_json(const topology& topo, const worker_env* env) {
  json::array out;
  for (size_t t = 0; t < topo.tables.size(); ++t) {
    auto& def = topo.tables[t];
    json::array agents;
    for (auto& a : topo.agents)
      for (auto used : a.tables)
        if (used == t)
          agents.emplace_back(a.name);
    out.push_back(json::object{
      {"name", def.name},
      {"changelog", def.changelog},
      {"partitions", partitions_of(env ? env->layout.table_partitions : std::vector<int32_t>{}, t,
                                   def.partitions)},
      {"key_codec", def.view.key_codec},
      {"value_codec", def.view.value_codec},
      {"agents", std::move(agents)},
    });
  }
  for (size_t g = 0; g < topo.globals.size(); ++g) {
    auto& def = topo.globals[g];
    out.push_back(json::object{
      {"name", def.name},
      {"global", true},
      {"topic", topo.topics[def.topic].kafka_name},
      {"keys", env && g < env->services.globals.size() ? env->services.globals[g]->size() : 0},
      {"key_codec", def.view.key_codec},
      {"value_codec", def.view.value_codec},
    });
  }
  return out;
}

json::array agents_json(const topology& topo, const worker_env* env) {
  json::array out;
  for (auto& a : topo.agents) {
    json::array tables;
    for (auto t : a.tables)
      tables.emplace_back(topo.tables[t].name);
    out.push_back(json::object{
      {"name", a.name},
      {"topic", topo.topics[a.topic].kafka_name},
      {"partitions", partitions_of(env ? env->layout.partitions : std::vector<int32_t>{}, a.topic,
                                   topo.topics[a.topic].partitions)},
      {"tables", std::move(tables)},
    });
  }
  return out;
}

json::object topology_json(const topology& topo, const worker_options& opts,
                           const worker_env* env) {
  json::array topics;
  for (size_t i = 0; i < topo.topics.size(); ++i) {
    auto& t = topo.topics[i];
    topics.push_back(json::object{
      {"name", t.name},
      {"kafka_name", t.kafka_name},
      {"internal", t.internal},
      {"partitions", partitions_of(env ? env->layout.partitions : std::vector<int32_t>{}, i,
                                   t.partitions)},
    });
  }
  json::object properties;
  for (auto& [key, value] : opts.client_properties) {
    auto dot = key.find('.');
    auto property = dot == std::string::npos ? key : key.substr(dot + 1);
    properties[key] = kafka::is_secret_property(property) ? "(redacted)" : value;
  }
  auto redacted = [](const std::string& secret) { return secret.empty() ? "" : "(redacted)"; };
  return json::object{
    {"app", topo.app_id},
    {"topics", std::move(topics)},
    {"tables", tables_json(topo, env)},
    {"agents", agents_json(topo, env)},
    {"dead_letter_topic", topo.dead_letter_topic()},
    {"settings",
     json::object{
       {"broker", opts.broker},
       {"processing_guarantee", opts.processing_guarantee},
       {"store", opts.store},
       {"topic_partitions", opts.topic_partitions},
       {"commit_interval_ms", opts.commit_interval_ms},
       {"batch_size", opts.batch_size},
       {"linger_ms", opts.linger_ms},
       {"partition_assignor", opts.partition_assignor},
       {"table_standby_replicas", opts.table_standby_replicas},
       {"cluster_listen", opts.cluster_listen},
       {"cluster_seeds", opts.cluster_seeds},
       {"cluster_secret", redacted(opts.cluster_secret)},
       {"web_listen", opts.web_listen},
       {"web_token", redacted(opts.web_token)},
     }},
    {"client_properties", std::move(properties)},
  };
}

/// `/health`: asks the partition manager something cheap; an answer within 2 s is health.
void check_health(worker::impl& d, responder respond) {
  std::shared_lock<std::shared_mutex> guard{d.lifetime};
  if (!d.serving || !d.manager) {
    respond(json_answer(503, json::object{{"status", "stopped"}}));
    return;
  }
  d.sys->spawn([manager = d.manager, respond](caf::event_based_actor* self) {
    self->request(manager, std::chrono::seconds(2), owned_atom::value)
      .then([respond](std::vector<int32_t>&) {
              respond(json_answer(200, json::object{{"status", "ok"}}));
            },
            [respond](caf::error& err) {
              respond(json_answer(503, json::object{{"status", "unresponsive"},
                                                    {"error", render(err)}}));
            });
  });
}

void check_ready(worker::impl& d, const responder& respond) {
  auto r = check_readiness(*d.stats, d.serving.load());
  json::object body{{"ready", r.ready},
                    {"assigned", r.assigned},
                    {"running", r.running},
                    {"restore_remaining", r.restore_remaining}};
  if (!r.ready)
    body["reason"] = r.reason;
  respond(json_answer(r.ready ? 200 : 503, body));
}

/// A global table's value: every worker holds all of it, so it answers from its own copy.
void global_value(worker::impl& d, size_t index, const std::string& table,
                  const std::string& key, responder respond) {
  auto& def = d.topo->globals[index];
  std::string why;
  if (def.view.check_key && !def.view.check_key(key, why)) {
    respond(error_answer(404, "bad key for table " + table + " (" + def.view.key_codec
                                + "): " + why));
    return;
  }
  auto env = d.env_alive.lock();
  if (!env || index >= env->services.globals.size()) {
    respond(error_answer(503, "the worker is not running"));
    return;
  }
  std::string value;
  if (!env->services.globals[index]->lookup(key, value, why)) {
    respond(json_answer(404, json::object{{"error", "no value"}, {"table", table}, {"key", key}}));
    return;
  }
  json::value out;
  if (!def.view.value_json(value, out, why)) {
    respond(error_answer(500, "the stored value does not decode: " + why));
    return;
  }
  respond(json_answer(200, json::object{{"table", table}, {"key", key}, {"value", out}}));
}

/// `/tables/<table>/<key>` (`rest` is `<table>/<key>`, still encoded).
void table_value(worker& w, worker::impl& d, std::string_view rest, responder respond) {
  auto slash = rest.find('/');
  std::string table;
  std::string key;
  if (slash == std::string_view::npos || !percent_decode(rest.substr(0, slash), table)
      || !percent_decode(rest.substr(slash + 1), key)) {
    respond(error_answer(404, "expected /tables/<table>/<key> (percent-encoded)"));
    return;
  }
  // The callback may run after the worker is gone (an embedded worker's system goes on):
  // it holds the topology it decodes with.
  std::shared_ptr<const topology> topo = d.topo;
  const topology::table_def* def = nullptr;
  for (auto& t : topo->tables)
    if (t.name == table)
      def = &t;
  if (def == nullptr) {
    for (size_t g = 0; g < topo->globals.size(); ++g)
      if (topo->globals[g].name == table) {
        global_value(d, g, table, key, std::move(respond));
        return;
      }
    respond(error_answer(404, "no table " + table));
    return;
  }
  std::string why;
  if (def->view.check_key && !def->view.check_key(key, why)) {
    respond(error_answer(404, "bad key for table " + table + " (" + def->view.key_codec
                                + "): " + why));
    return;
  }
  auto timeout = std::chrono::milliseconds(d.opts.cluster_timeout_ms * 2);
  w.table_get_async(
    table, key,
    [respond, topo, def, table, key](worker::table_get_result got) {
      if (!got) {
        auto status = is(got.error(), errc::not_ready) || is(got.error(), errc::not_owned)
                          || is(got.error(), errc::timeout)
                        ? 503u
                        : 500u;
        respond(error_answer(status, render(got.error())));
        return;
      }
      if (!*got) {
        respond(json_answer(404, json::object{{"error", "no value"},
                                              {"table", table},
                                              {"key", key}}));
        return;
      }
      json::value value;
      std::string why;
      if (!def->view.value_json(**got, value, why)) {
        respond(error_answer(500, "the stored value does not decode: " + why));
        return;
      }
      respond(json_answer(200, json::object{{"table", table}, {"key", key}, {"value", value}}));
    },
    timeout);
}

} // namespace

request_handler make_web_views(worker& w, worker::impl& d) {
  return [&w, &d](const http_request& req, responder respond) {
    if (!d.opts.web_token.empty()
        && !same_secret(req.authorization, "Bearer " + d.opts.web_token)) {
      auto res = error_answer(401, "a bearer token is required (web_token)");
      res.headers.emplace_back("WWW-Authenticate", "Bearer");
      respond(std::move(res));
      return;
    }
    if (req.method != "GET" && req.method != "HEAD") {
      respond(error_answer(405, "only GET and HEAD"));
      return;
    }
    std::string_view path = req.target;
    path = path.substr(0, path.find('?'));
    auto env = d.env_alive.lock(); // layout (partition counts) and RocksDB, while it lives
    if (path == "/metrics") {
      respond({200, "text/plain; version=0.0.4; charset=utf-8",
               metrics_page(*d.stats, *d.topo, env ? env->services.rocks.get() : nullptr,
                            d.serving.load()),
               {}});
    } else if (path == "/health") {
      check_health(d, std::move(respond));
    } else if (path == "/ready") {
      check_ready(d, respond);
    } else if (path == "/tables" || path == "/tables/") {
      respond(json_answer(200, tables_json(*d.topo, env.get())));
    } else if (path == "/agents") {
      respond(json_answer(200, agents_json(*d.topo, env.get())));
    } else if (path == "/topology") {
      respond(json_answer(200, topology_json(*d.topo, d.opts, env.get())));
    } else if (path.rfind("/tables/", 0) == 0) {
      table_value(w, d, path.substr(std::string_view{"/tables/"}.size()), std::move(respond));
    } else {
      respond(error_answer(404, "no page " + std::string{path}
                                  + " (try /metrics, /health, /ready, /tables, /agents, "
                                    "/topology)"));
    }
  };
}

} // namespace mephisto::web
