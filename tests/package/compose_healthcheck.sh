#!/usr/bin/env bash
# Runs the colors service's healthcheck from docker/docker-compose.yml, without a Docker
# engine, against a stand-in web server on 127.0.0.1:6066, and checks its exit status:
#   /ready 200                    -> 0 (healthy)
#   /ready 503 (recovering)       -> non-zero
#   /ready 401 (token missing)    -> non-zero; with MEPHISTO_WEB_TOKEN set -> 0
#   nothing listening on the port -> non-zero
#   a server that never answers   -> still running after the compose timeout
# The command is taken from the compose file as compose would run it ($$ -> $) and run
# exactly, in a network namespace of its own (unshare -n) so that port 6066 is free;
# where unshare is not allowed, on the host's loopback with 6066 replaced by a free port.
#
#   tests/package/compose_healthcheck.sh [SOURCE_DIR]
set -euo pipefail
src=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
fail() { echo "compose_healthcheck: $*" >&2; exit 1; }
command -v python3 >/dev/null || fail "python3 is missing"
python3 -c 'import yaml' 2>/dev/null || fail "python3 yaml is missing (apt-get install python3-yaml)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The healthcheck: ["CMD", argv...] with compose's $$ escapes undone.
python3 - "$src/docker/docker-compose.yml" > "$tmp/argv" <<'EOF'
import sys, yaml
hc = yaml.safe_load(open(sys.argv[1]))["services"]["colors"]["healthcheck"]
test = hc["test"]
assert test[0] == "CMD", "healthcheck must be exec form (CMD): the image's /bin/sh has no /dev/tcp"
for arg in test[1:]:
    sys.stdout.write(arg.replace("$$", "$") + "\0")
EOF
grep -q '/dev/tcp/127.0.0.1/6066' "$tmp/argv" || fail "the healthcheck does not ask port 6066"

# The stand-in server: answers GET /ready as the worker would, per mode.
cat > "$tmp/server.py" <<'EOF'
import http.server, sys, time
mode, port = sys.argv[1], int(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if mode == "hang":
            time.sleep(30); return
        if self.path != "/ready":
            code, body = 404, b'{"error":"not found"}'
        elif mode.startswith("token:") and self.headers.get("Authorization") != "Bearer " + mode[6:]:
            code, body = 401, b'{"error":"unauthorized"}'
        elif mode == "unready":
            code, body = 503, b'{"ready":false,"reason":"recovering"}'
        else:
            code, body = 200, b'{"ready":true}'
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
EOF

# One case: runs the server (unless mode is "none"), then the healthcheck with a 5 s
# limit as compose's timeout; prints the healthcheck's exit status.
cat > "$tmp/case.sh" <<'EOF'
set -u
tmp=$1 mode=$2 port=$3
if [ "$mode" != none ]; then
  python3 "$tmp/server.py" "$mode" "$port" & server=$!
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
fi
mapfile -d '' argv < "$tmp/argv"
[ "$port" = 6066 ] || argv=("${argv[@]//\/6066/\/$port}")
timeout 5 "${argv[@]}" 2>/dev/null; rc=$?
[ "$mode" = none ] || { kill "$server"; wait "$server" 2>/dev/null; }
echo "$rc"
EOF

if unshare -n true 2>/dev/null; then
  run() { env ${token:+MEPHISTO_WEB_TOKEN=$token} unshare -n bash -c \
            'ip link set lo up 2>/dev/null || true; exec bash "$0" "$@"' "$tmp/case.sh" "$tmp" "$1" 6066; }
  where="its own network namespace, port 6066"
else
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  run() { env ${token:+MEPHISTO_WEB_TOKEN=$token} bash "$tmp/case.sh" "$tmp" "$1" "$port"; }
  where="the host's loopback, port $port"
fi

passed=0 failed=0
expect() { # expect zero|nonzero|timeout MODE [TOKEN]
  local want=$1 mode=$2 rc ok=0
  token=${3:-}
  rc=$(run "$mode")
  case $want in
    zero) [ "$rc" = 0 ] && ok=1 ;;
    nonzero) [ "$rc" != 0 ] && [ "$rc" != 124 ] && ok=1 ;;
    timeout) [ "$rc" = 124 ] && ok=1 ;;
  esac
  if [ $ok = 1 ]; then
    passed=$((passed + 1)); echo "ok: $mode${token:+ (MEPHISTO_WEB_TOKEN=$token)} -> exit $rc"
  else
    failed=$((failed + 1)); echo "FAILED: $mode${token:+ (MEPHISTO_WEB_TOKEN=$token)} -> exit $rc, wanted $want"
  fi
}
echo "compose_healthcheck: the colors healthcheck in $where"
expect zero ok
expect nonzero unready
expect nonzero none
expect nonzero token:s3cret
expect zero token:s3cret s3cret
expect nonzero token:s3cret wrong
expect timeout hang
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
