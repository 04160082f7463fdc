#!/usr/bin/env bash
# The colors demo: a worker with an embedded Kafka broker, a sample of words fed with
# kcat, the running counts as they arrive on `output`, then a clean stop.
# Usage: apps/colors/demo.sh [path/to/colors]
set -euo pipefail
BIN=${1:-build/apps/colors}
WORDS=${WORDS:-300}
tmp=$(mktemp -d)
worker=
cleanup() {
  [ -n "$worker" ] && kill -TERM "$worker" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "== starting: $BIN worker --broker embedded"
"$BIN" worker --broker embedded --bootstrap_file "$tmp/bs.txt" --commit_interval_ms 200 \
  2> "$tmp/worker.log" &
worker=$!
for _ in $(seq 100); do [ -s "$tmp/bs.txt" ] && break; sleep 0.2; done
[ -s "$tmp/bs.txt" ] || { cat "$tmp/worker.log"; echo "no broker came up"; exit 1; }
url=$(cat "$tmp/bs.txt"); bs=${url#kafka://}
echo "== embedded broker at $url (try: kcat -b $bs -L)"
for _ in $(seq 150); do grep -q "assigned: " "$tmp/worker.log" && break; sleep 0.2; done
grep -q "assigned: " "$tmp/worker.log" || { cat "$tmp/worker.log"; echo "no assignment"; exit 1; }

awk -v n="$WORDS" 'BEGIN { srand(42); split("red green blue yellow black white cat dog", w, " ");
  for (i = 0; i < n; i++) print w[int(rand() * 8) + 1] }' > "$tmp/words.txt"
expected=$(grep -cE '^(red|green|blue)$' "$tmp/words.txt")
echo "== feeding $WORDS words ($expected of them colors) to 'input' with kcat"
kcat -b "$bs" -P -t input -l "$tmp/words.txt"

echo "== running counts arriving on 'output' (color = count):"
timeout 60 kcat -b "$bs" -C -t output -o beginning -c "$expected" -q -f '%k=%s\n' \
  | tee "$tmp/output.txt" | paste -sd' ' | fold -s -w 100
got=$(wc -l < "$tmp/output.txt")

echo "== final counts (last value per color) vs. the words fed:"
ok=1
for c in red green blue; do
  want=$(grep -cx "$c" "$tmp/words.txt" || true)
  have=$(grep "^$c=" "$tmp/output.txt" | tail -1 | cut -d= -f2)
  printf '   %-6s %5s  (expected %s)\n' "$c" "${have:-0}" "$want"
  [ "${have:-0}" = "$want" ] || ok=0
done
echo "== stopping the worker (SIGTERM: drain, commit, exit)"
rc=0
kill -TERM "$worker"; wait "$worker" || rc=$?; worker=
tail -1 "$tmp/worker.log"
[ "$got" = "$expected" ] && [ $ok = 1 ] && [ $rc = 0 ] || { echo "demo FAILED"; exit 1; }
echo "== demo OK"
