#!/usr/bin/env bash
# Checks the monitoring setup of docker/docker-compose.yml without a Docker engine:
#   1. promtool checks docker/prometheus/prometheus.yml;
#   2. the Grafana files: the dashboard's JSON (uid, panels, grid, targets, the data
#      source uid that docker/grafana/provisioning/datasources/prometheus.yml provisions);
#   3. two colors workers on this machine, as `--scale colors=2` would run them: worker A
#      with the embedded broker and RocksDB tables, worker B joining its group later (a
#      rebalance; B restores the tables it takes over from their changelogs); words are
#      fed to `input` throughout;
#   4. a local Prometheus with docker/prometheus/prometheus.yml scrapes them. Run as root,
#      all of it runs in a network and mount namespace of its own (unshare -mn), like the
#      compose network: the workers on 127.0.0.1:6066 and 127.0.0.2:6066, Prometheus on
#      :9090 with the config file unchanged, and a small DNS server standing in for
#      Docker's, answering `colors` with one A record per worker (worker B's added when it
#      starts: Prometheus must find it within the 30 s refresh). Elsewhere (or NO_NETNS=1)
#      the workers take free ports and the DNS discovery becomes their static addresses;
#   5. every query of the dashboard (panels and variables) goes through Prometheus' HTTP
#      API (/api/v1/query), $app and $instance and $__rate_interval filled in as Grafana
#      would. Each must parse and return series; the few that may rightly be empty say why.
# Everything started is stopped on exit.
#
#   docker/check-monitoring.sh [COLORS_BINARY]    (default: build/apps/colors)
#   KEEP=1 docker/check-monitoring.sh ...         keeps the workers' and Prometheus' logs
# Needs: prometheus and promtool (apt-get install prometheus), python3, curl; kcat if
# installed (else the app's `send` command feeds the words).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
colors=${1:-$here/../build/apps/colors}
fail() { echo "check-monitoring: $*" >&2; exit 1; }
for tool in prometheus promtool python3 curl; do
  command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install prometheus curl python3)"
done
[ -x "$colors" ] || fail "no colors binary at $colors"
"$colors" --help 2>/dev/null | grep -q web_listen || fail "$colors has no web server (web_listen)"
colors=$(cd "$(dirname "$colors")" && pwd)/$(basename "$colors")
if [ -z "${CHECK_MONITORING_NETNS:-}" ] && [ -z "${NO_NETNS:-}" ] && unshare -mn true 2>/dev/null; then
  CHECK_MONITORING_NETNS=1 exec unshare -mn bash "$0" "$colors"
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  if [ -n "${KEEP:-}" ]; then echo "check-monitoring: logs kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2; shift 2
  for _ in $(seq $((limit * 2))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  fail "timed out waiting for $what (logs in $tmp, kept)"
}

echo "== promtool check config docker/prometheus/prometheus.yml"
promtool check config "$here/prometheus/prometheus.yml"

echo "== Grafana files"
python3 - "$here/grafana" <<'EOF'
import json, sys, yaml, pathlib
root = pathlib.Path(sys.argv[1])
ds = yaml.safe_load(open(root / "provisioning/datasources/prometheus.yml"))["datasources"]
uids = {d["uid"] for d in ds}
assert ds[0]["url"] == "http://prometheus:9090", ds[0]["url"]
prov = yaml.safe_load(open(root / "provisioning/dashboards/mephisto.yml"))["providers"]
assert prov[0]["options"]["path"] == "/etc/grafana/dashboards"
d = json.load(open(root / "dashboards/mephisto.json"))
assert d["uid"] and d["title"] and 36 <= d["schemaVersion"] <= 41, "uid, title, schemaVersion"
names = [v["name"] for v in d["templating"]["list"]]
assert "app" in names, names
ids, cells, targets = set(), set(), 0
for p in d["panels"]:
    assert p["id"] not in ids, f"panel id {p['id']} twice"; ids.add(p["id"])
    g = p["gridPos"]
    assert g["x"] >= 0 and g["x"] + g["w"] <= 24, f"{p['title']}: outside the 24 columns"
    for x in range(g["x"], g["x"] + g["w"]):
        for y in range(g["y"], g["y"] + g["h"]):
            assert (x, y) not in cells, f"{p['title']} overlaps another panel"; cells.add((x, y))
    if p["type"] == "row":
        continue
    assert p["datasource"]["uid"] in uids, f"{p['title']}: data source {p['datasource']}"
    assert p["targets"], f"{p['title']}: no targets"
    for t in p["targets"]:
        assert t["datasource"]["uid"] in uids and t["expr"] and t["refId"], f"{p['title']}: {t}"
        assert 'app="$app"' in t["expr"], f"{p['title']}: {t['expr']} ignores $app"
        targets += 1
for v in d["templating"]["list"]:
    assert v["datasource"]["uid"] in uids, v["name"]
print(f"ok: {len(ids)} panels, {targets} queries, data source uid {sorted(uids)}, variables {names}")
EOF

if [ -n "${CHECK_MONITORING_NETNS:-}" ]; then
  echo "== in a network namespace of its own: DNS for colors, workers on :6066"
  ip link set lo up
  addr_a=127.0.0.1:6066 addr_b=127.0.0.2:6066 prom_addr=127.0.0.1:9090
  # Docker's DNS stands in: `colors` -> the A records listed in $tmp/colors.addrs.
  cat > "$tmp/dns.py" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
while True:
    data, peer = s.recvfrom(512)
    i, labels = 12, []
    while data[i]:
        labels.append(data[i + 1:i + 1 + data[i]].decode().lower()); i += 1 + data[i]
    qtype = struct.unpack(">H", data[i + 1:i + 3])[0]
    question = data[12:i + 5]
    addrs = open(sys.argv[1]).read().split() if labels == ["colors"] else []
    answers = b"".join(b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 5, 4) + socket.inet_aton(a)
                       for a in addrs) if qtype == 1 else b""
    flags = 0x8580 | (0 if labels == ["colors"] else 3)  # answer, authoritative; NXDOMAIN
    n = len(addrs) if qtype == 1 else 0
    s.sendto(struct.pack(">HHHHHH", data[0] << 8 | data[1], flags, 1, n, 0, 0) + question + answers, peer)
EOF
  echo 127.0.0.1 > "$tmp/colors.addrs"
  python3 "$tmp/dns.py" "$tmp/colors.addrs" > "$tmp/dns.log" 2>&1 &
  pids+=($!)
  echo "nameserver 127.0.0.1" > "$tmp/resolv.conf"
  mount --bind "$tmp/resolv.conf" /etc/resolv.conf
  config=$here/prometheus/prometheus.yml
else
  addr_a=127.0.0.1:$(free_port) addr_b=127.0.0.1:$(free_port) prom_addr=127.0.0.1:$(free_port)
  cat > "$tmp/prometheus.yml.py" <<'EOF'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
job = next(j for j in c["scrape_configs"] if j["job_name"] == "colors")
del job["dns_sd_configs"]
job["static_configs"] = [{"targets": sys.argv[3:]}]
c["scrape_configs"] = [job]
yaml.safe_dump(c, open(sys.argv[2], "w"))
EOF
  python3 "$tmp/prometheus.yml.py" "$here/prometheus/prometheus.yml" "$tmp/prometheus.yml" \
    "$addr_a" "$addr_b"
  promtool check config "$tmp/prometheus.yml" >/dev/null
  config=$tmp/prometheus.yml
fi

echo "== two colors workers ($colors)"
cp "$colors" "$tmp/colors"   # the build tree may be rebuilt meanwhile
"$tmp/colors" --store "rocksdb://$tmp/rocks" worker --broker embedded \
  --web_listen "$addr_a" --bootstrap_file "$tmp/boot" > "$tmp/worker-a.log" 2>&1 &
pids+=($!)
wait_for 60 "worker A's broker" test -s "$tmp/boot"
broker=$(cat "$tmp/boot")
wait_for 60 "worker A's /ready" curl -sf "http://$addr_a/ready"
echo "worker A: $addr_a (embedded broker $broker, RocksDB tables), ready"

feed() { # feed N: N words to `input`
  local words=(red green blue red cat yellow red green) n=$1 i
  if command -v kcat >/dev/null; then
    for ((i = 0; i < n; i++)); do echo "${words[i % 8]}"; done \
      | kcat -P -b "${broker#kafka://}" -t input
  else
    for ((i = 0; i < n; i++)); do "$tmp/colors" send input "${words[i % 8]}" --broker "$broker" >/dev/null; done
  fi
}

prometheus --config.file="$config" --storage.tsdb.path="$tmp/tsdb" \
  --web.listen-address="$prom_addr" > "$tmp/prometheus.log" 2>&1 &
pids+=($!)
started=$(date +%s)
prom=http://$prom_addr
wait_for 60 "Prometheus" curl -sf "$prom/-/ready"
echo "Prometheus: $prom with $config"
colors_targets() { # the colors job's targets that are up
  curl -s "$prom/api/v1/targets" | python3 -c '
import json, sys
for t in json.load(sys.stdin)["data"]["activeTargets"]:
    if t["labels"]["job"] == "colors" and t["health"] == "up":
        print(t["scrapeUrl"])'
}
up_count() { [ "$(colors_targets | wc -l)" -ge "$1" ]; }
wait_for 30 "Prometheus scraping worker A" up_count 1

for round in 1 2 3 4; do feed 200; sleep 2; done
"$tmp/colors" worker --broker "$broker" --web_listen "$addr_b" > "$tmp/worker-b.log" 2>&1 &
pids+=($!)
[ -z "${CHECK_MONITORING_NETNS:-}" ] || echo 127.0.0.2 >> "$tmp/colors.addrs"
# Ready with partitions: /ready is 200 with none assigned between two steps of a rebalance.
b_ready() { curl -sf "http://$addr_b/ready" | grep -q '"assigned":[1-9]'; }
wait_for 120 "worker B's /ready with partitions assigned" b_ready
echo "worker B: $addr_b (memory tables), joined, ready: $(curl -s "http://$addr_b/ready")"
# The DNS discovery asks again every 30 s: worker B must be scraped within 45 s.
wait_for 45 "Prometheus scraping worker B too" up_count 2
echo "Prometheus scrapes:" $(colors_targets)
# Rates need a few scrapes of both workers: feed on for 40 s.
for round in $(seq 10); do feed 200; sleep 4; done
up_count 2 || fail "a worker is no longer scraped: $(colors_targets)"

echo "== the dashboard's queries through $prom/api/v1/query (and query_range)"
python3 - "$here/grafana/dashboards/mephisto.json" "$prom" "$started" <<'EOF'
import json, math, re, sys, time, urllib.parse, urllib.request
dash, prom, started = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])

def query(expr, api="query", **params):
    url = f"{prom}/api/v1/{api}?" + urllib.parse.urlencode({"query": expr, **params})
    try:
        body = json.load(urllib.request.urlopen(url))
    except urllib.error.HTTPError as e:
        body = json.load(e)
    if body["status"] != "success":
        raise SystemExit(f"FAILED: {expr}\n  {body.get('errorType')}: {body.get('error')}")
    return body["data"]["result"]

# Variables as Grafana fills them: label_values(selector, label) for app and instance.
def label_values(definition, subst):
    m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", definition)
    sel, label = m.group(1), m.group(2)
    for k, v in subst.items():
        sel = sel.replace(k, v)
    return sorted({r["metric"][label] for r in query(sel)})
subst = {}
for v in dash["templating"]["list"]:
    values = label_values(v["definition"], subst)
    print(f"variable ${v['name']}: {values}")
    if not values:
        raise SystemExit(f"FAILED: variable {v['name']} has no values")
    subst["$" + v["name"]] = values[0] if not v.get("multi") else "|".join(values)
subst["$__rate_interval"] = "30s"

# Queries that may rightly return nothing in this run, and why.
may_be_empty = {
    "mephisto_restore_remaining_records":
        "no restore lasted a scrape: a partition's gauge exists only while it restores",
}
# Each query twice: instant at the end of the run (/api/v1/query: it must parse, and
# return series), and over the whole run as a Grafana panel asks it (/api/v1/query_range,
# step 5 s), for events that are over by the end (a rebalance's duration, say).
counts = {"now": 0, "range": 0, "empty": 0}
bad = []
end = time.time()
for p in dash["panels"]:
    for t in p.get("targets", []):
        expr = t["expr"]
        for k, v in subst.items():
            expr = expr.replace(k, v)
        res = query(expr)
        now = [float(r["value"][1]) for r in res]
        now = [x for x in now if not math.isnan(x)]
        rng = query(expr, "query_range", start=started, end=end, step=5)
        over = [float(v[1]) for r in rng for v in r["values"]]
        over = [x for x in over if not math.isnan(x)] + now
        name = f"[{p['title']} / {t['legendFormat']}]"
        why = next((w for m, w in may_be_empty.items() if m in expr), None)
        if now:
            counts["now"] += 1
            print(f"ok    {name} now: {len(res)} series, e.g. {now[0]:.6g}; run max {max(over):.6g}")
        elif over:
            counts["range"] += 1
            print(f"ok    {name} now: {len(res)} series, none finite (nothing in the last window); "
                  f"run: {len(rng)} series, max {max(over):.6g}")
        else:
            counts["empty"] += 1
            print(f"{'fine ' if why else 'EMPTY'} {name} no data" + (f" -- {why}" if why else ""))
            if not why:
                bad.append(name)
print(f"{counts['now']} with data now, {counts['range']} with data earlier in the run, "
      f"{counts['empty']} empty")
if bad:
    raise SystemExit("FAILED: no data for " + "; ".join(bad))
EOF
echo "check-monitoring: ok"
