#!/usr/bin/env bash
# The page-views demo: a worker with an embedded Kafka broker; users and their countries fed
# to `users`, 60 page views (JSON, with their event time) to `page_views` with kcat, then
# one much later view per user, which closes every window before it. Prints the final
# views per user and minute (checked against a count made here with awk), the visits
# (session windows, 30 s of inactivity) and the views joined with the users' countries.
# Usage: apps/pageviews/demo.sh [path/to/pageviews]
set -euo pipefail
BIN=${1:-build/apps/pageviews}
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
for _ in $(seq 150); do grep -q "assigned: " "$tmp/worker.log" && break; sleep 0.2; done
grep -q "assigned: " "$tmp/worker.log" || { cat "$tmp/worker.log"; echo "no assignment"; exit 1; }

printf 'u1:se\nu2:fr\nu3:de\nu4:it\n' > "$tmp/users.txt"   # u5 has no country
echo "== feeding 4 users to 'users' with kcat"
kcat -b "$bs" -P -t users -K: -l "$tmp/users.txt"
# Two topics are not ordered against each other: wait until the table holds the users
# (their changelog records follow the table's updates) before the views come.
timeout 30 kcat -b "$bs" -C -t pageviews-users-changelog -o beginning -c 4 -q > /dev/null
# 60 views from 2024-01-01T00:00:00Z: 30 over the first two minutes, a pause, 30 more.
awk 'BEGIN { base = 1704067200000;
  for (i = 0; i < 60; i++) {
    ts = base + (i < 30 ? i * 4000 : 300000 + (i - 30) * 4000);
    printf "u%d:{\"page\":\"/p%d\",\"ts\":%.0f}\n", (i * 7 + int(i / 9)) % 5 + 1, i % 4, ts } }' > "$tmp/views.txt"
awk 'BEGIN { for (u = 1; u <= 5; u++)
  printf "u%d:{\"page\":\"/bye\",\"ts\":%.0f}\n", u, 1704067200000 + 3600000 }' > "$tmp/closers.txt"
echo "== feeding 60 page views to 'page_views', then one an hour later per user"
kcat -b "$bs" -P -t page_views -K: -l "$tmp/views.txt"
kcat -b "$bs" -P -t page_views -K: -l "$tmp/closers.txt"

# What the final results must be: views per (user, minute start).
sed -E 's/^(u[0-9]):.*"ts":([0-9]+).*/\1 \2/' "$tmp/views.txt" \
  | awk '{ m = sprintf("%.0f", $2 - $2 % 60000); n[$1 " " m]++ } END { for (k in n) print k, n[k] }' \
  | sort > "$tmp/expected.txt"
expected=$(wc -l < "$tmp/expected.txt")
echo "== final views per user and minute on 'views_per_minute' (user: minute start, views):"
timeout 60 kcat -b "$bs" -C -t views_per_minute -o beginning -c "$expected" -q -f '%k %s\n' \
  | sort > "$tmp/minutes.txt"
awk '{ printf "   %s: %s %d\n", $1, strftime("%H:%M", $2 / 1000, 1), $3 }' "$tmp/minutes.txt" \
  | paste -sd' ' | fold -s -w 100
echo "== visits (session windows) on 'visits' (user: first and last view, views):"
timeout 60 kcat -b "$bs" -C -t visits -o beginning -c 10 -q -f '%k %s\n' | sort \
  | awk '{ printf "   %s: %s-%s %d\n", $1, strftime("%H:%M:%S", $2 / 1000, 1),
           strftime("%H:%M:%S", $3 / 1000, 1), $4 }' | paste -sd' ' | fold -s -w 100
echo "== the first views joined with the users' countries on 'enriched_views':"
timeout 60 kcat -b "$bs" -C -t enriched_views -o beginning -c 65 -q -f '%k %s\n' \
  > "$tmp/enriched.txt"
sort -u "$tmp/enriched.txt" | awk '!seen[$1]++' | sed 's/^/   /' | paste -sd' ' | fold -s -w 100
echo "== stopping the worker (SIGTERM: drain, commit, exit)"
rc=0
kill -TERM "$worker"; wait "$worker" || rc=$?; worker=
if ! diff -u "$tmp/expected.txt" "$tmp/minutes.txt"; then
  echo "demo FAILED: the final results differ from the views fed"; exit 1
fi
[ "$(grep -c " unknown$" "$tmp/enriched.txt")" = "$(grep -c "^u5 " "$tmp/enriched.txt")" ] \
  || { echo "demo FAILED: a user with a country was not joined"; exit 1; }
[ $rc = 0 ] || { echo "demo FAILED: the worker exited with $rc"; exit 1; }
echo "== demo OK: $expected final results, one per user and minute, as counted here"
