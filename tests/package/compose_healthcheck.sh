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
# Given a colors binary, it also runs a real worker (embedded broker) the way the compose
# file does (MEPHISTO_WEB_LISTEN=0.0.0.0:6066) and checks the healthcheck against it as it
# starts: non-zero before the listener and while /ready is 503, 0 once /ready is 200;
# then with MEPHISTO_WEB_TOKEN set on the worker: 0 with the token, non-zero without.
#
#   tests/package/compose_healthcheck.sh [SOURCE_DIR [COLORS_BINARY]]
set -euo pipefail
src=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
colors=${2:-}
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

# The real worker: started, then the healthcheck (and curl for /ready's status) every
# 0.1 s until the healthcheck passes; prints each change as STATUS:EXIT (000: no answer;
# BEFORE>AFTER:EXIT when /ready's status changed while the healthcheck ran).
cat > "$tmp/worker.sh" <<'EOF'
set -u
tmp=$1 colors=$2 port=$3 host=$4
mapfile -d '' argv < "$tmp/argv"
[ "$port" = 6066 ] || argv=("${argv[@]//\/6066/\/$port}")
hc() { timeout 5 "${argv[@]}" 2>/dev/null; echo $?; }
status() {
  curl -s -o /dev/null -w '%{http_code}' -m 5 \
    ${MEPHISTO_WEB_TOKEN:+-H "Authorization: Bearer $MEPHISTO_WEB_TOKEN"} "http://127.0.0.1:$port/ready"
}
cd "$tmp"
MEPHISTO_WEB_LISTEN=$host:$port "$colors" worker --broker embedded > "$tmp/worker.log" 2>&1 &
worker=$!
seen= last=
for _ in $(seq 600); do
  # /ready's status before and after the healthcheck: A>B when it changed meanwhile.
  s1=$(status) rc=$(hc) s2=$(status)
  if [ "$s1" = "$s2" ]; then now="$s1:$rc"; else now="$s1>$s2:$rc"; fi
  [ "$now" = "$last" ] || seen="$seen $now"
  last=$now
  [ "${now#*:}" = 0 ] && break
  sleep 0.1
done
echo "sequence:$seen"
if [ -n "${MEPHISTO_WEB_TOKEN:-}" ]; then
  echo "without the token: $(MEPHISTO_WEB_TOKEN= status):$(env -u MEPHISTO_WEB_TOKEN bash -c "$(declare -f hc); $(declare -p argv); hc")"
fi
kill "$worker"; wait "$worker" 2>/dev/null
echo "stopped: $(status):$(hc)"
EOF

if unshare -n true 2>/dev/null; then
  run() { env ${token:+MEPHISTO_WEB_TOKEN=$token} unshare -n bash -c \
            'ip link set lo up 2>/dev/null || true; exec bash "$0" "$@"' "$tmp/case.sh" "$tmp" "$1" 6066; }
  run_worker() { env ${token:+MEPHISTO_WEB_TOKEN=$token} unshare -n bash -c \
            'ip link set lo up 2>/dev/null || true; exec bash "$0" "$@"' "$tmp/worker.sh" "$tmp" "$colors" 6066 0.0.0.0; }
  where="its own network namespace, port 6066"
else
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  run() { env ${token:+MEPHISTO_WEB_TOKEN=$token} bash "$tmp/case.sh" "$tmp" "$1" "$port"; }
  run_worker() { env ${token:+MEPHISTO_WEB_TOKEN=$token} bash "$tmp/worker.sh" "$tmp" "$colors" "$port" 127.0.0.1; }
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

# Against a real worker: every step's exit status must match /ready's status (0 for 200,
# non-zero for anything else; a step during which the status changed can go either way),
# the 503 of joining the group must have been seen, and the healthcheck must end passing
# (200:0); once the worker is gone, non-zero.
check_worker() { # check_worker OUTPUT
  local out=$1 seq stopped ok=1 step
  seq=$(sed -n 's/^sequence: //p' <<< "$out")
  stopped=$(sed -n 's/^stopped: //p' <<< "$out")
  for step in $seq; do
    case $step in *'>'*) ;; 200:0) ;; 200:*) ok=0 ;; *:0) ok=0 ;; esac
  done
  [[ " $seq " == *" 503:"[1-9]* ]] || ok=0
  [[ "$seq" == *"200:0" || "$seq" == *">200:0" ]] || ok=0
  [[ "$stopped" == 000:[1-9]* ]] || ok=0
  if grep -q '^without the token' <<< "$out"; then
    [[ "$(sed -n 's/^without the token: //p' <<< "$out")" == 401:[1-9]* ]] || ok=0
  fi
  if [ $ok = 1 ]; then passed=$((passed + 1)); echo "ok: $what"; else failed=$((failed + 1)); echo "FAILED: $what"; fi
  sed 's/^/    /' <<< "$out"
}
if [ -n "$colors" ]; then
  [ -x "$colors" ] || fail "no colors binary at $colors"
  cp "$colors" "$tmp/colors"
  colors=$tmp/colors
  token=; what="a real worker, STATUS:EXIT as it starts"
  check_worker "$(run_worker)"
  token=s3cret; what="a real worker with MEPHISTO_WEB_TOKEN=s3cret"
  check_worker "$(run_worker)"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
