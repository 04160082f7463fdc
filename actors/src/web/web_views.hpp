#pragma once

#include "mephisto/actors/worker_impl.hpp"
#include "web/http_server.hpp"

namespace mephisto::web {

/// The worker's web pages, as the handler of its `http_server`:
/// - `/metrics`: Prometheus text (metrics_page.hpp);
/// - `/health`: 200 while the worker runs and its partition manager answers, else 503;
/// - `/ready`: 200 when every assigned partition processes, else 503 with the reason;
/// - `/tables`, `/agents`, `/topology`: the declared app as JSON (secrets redacted);
/// - `/tables/<table>/<key>`: the key's value decoded to JSON, from whichever instance
///   holds its partition (through the cluster, as `worker::table_get`).
/// Every answer is JSON except `/metrics`; errors are `{"error": "..."}`. With a
/// `web_token`, a request without `Authorization: Bearer <token>` gets 401.
///
/// Runs on the web server's thread and never blocks it: what needs the actors (health,
/// table values) is answered from a CAF thread. `w` and `d` outlive the server (the
/// worker stops it first).
request_handler make_web_views(worker& w, worker::impl& d);

} // namespace mephisto::web
