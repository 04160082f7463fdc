#!/usr/bin/env bash
# Compares the colors pipeline (see README.md) in Mephisto, Faust and Kafka Streams, and a
# plain copy ("limit"), on one real Kafka broker and the same pre-produced input. Run on
# demand, not in CI.
#
#   bench/compare.sh [--words 1000000] [--bootstrap host:port] [--systems limit,mephisto,kstreams,faust]
#                    [--timeout SECONDS] [--kstreams-threads 1]
#
# Without --bootstrap it starts a broker with tests/kafka/kafka.sh in bench/peers/work/kafka
# and stops it at the end. It deletes and recreates the benchmark's topics and groups, produces
# the words once (red green blue yellow black white cat dog, uniformly, seeded, word i to
# partition i % 8), then runs each system alone as a process until its output topic holds one
# record per color word (N records for limit), and stops it.
#   wall s        launch -> last output record (start-up, group join, recovery included)
#   processing s  first record the system wrote (to its repartition topic, or output) -> last
#                 output record; msgs/s = input words / processing s. Use >= 1M words: the
#                 high watermarks are polled every 10 ms.
#   CPU s, RSS    utime+stime and peak RSS (VmHWM) of the process tree at the last record
# Every output is then read back and checked (record count, final count per color).
# Results: a Markdown table on stdout and bench/peers/work/results.json; logs in
# bench/peers/work/logs/. Needs bench/peers/install.sh and `make build` first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peers=$root/bench/peers
work=$peers/work
words=1000000
bootstrap=
systems=limit,mephisto,kstreams,faust
timeout=600
kstreams_threads=1
seed=42

while [ $# -gt 0 ]; do
  case "$1" in
    --words) words=$2; shift 2 ;;
    --bootstrap) bootstrap=$2; shift 2 ;;
    --systems) systems=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --kstreams-threads) kstreams_threads=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown argument $1 (--help)" >&2; exit 64 ;;
  esac
done

log() { echo "compare.sh: $*" >&2; }
jar=$peers/kstreams/target/colors-streams.jar
# The jar holds BenchTool, which every run needs; Faust only when it is compared.
[ -f "$jar" ] || { log "peers missing: run bench/peers/install.sh"; exit 1; }
case ",$systems," in
  *,faust,*) [ -x "$peers/.venv/bin/faust" ] || { log "Faust missing: run bench/peers/install.sh"; exit 1; } ;;
esac
tool="java -Xmx256m -cp $jar:$peers/kstreams/target/lib/* io.mephisto.bench.BenchTool"
mkdir -p "$work/logs"

broker_dir=
broker_pid=
cleanup() {
  [ -n "$broker_dir" ] && "$root/tests/kafka/kafka.sh" stop "$broker_dir" >&2 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ -z "$bootstrap" ]; then
  broker_dir=$work/kafka
  "$root/tests/kafka/kafka.sh" start "$broker_dir" >&2
  bootstrap=$(cat "$broker_dir/bootstrap")
  broker_pid=$(cat "$broker_dir/pid")
fi
log "broker $bootstrap"

# app ids and output topics (Mephisto's output topic is fixed: output)
faust_id=colors-faust-bench;       faust_out=faust_output
kstreams_id=colors-kstreams-bench; kstreams_out=kstreams_output
mephisto_id=colors-mephisto-bench; mephisto_out=output
limit_out=raw_output

$tool reset "$bootstrap" "input,$faust_out,$kstreams_out,$mephisto_out,$limit_out" \
  "$faust_id,$kstreams_id,$mephisto_id" "$faust_id,$kstreams_id,$mephisto_id" >&2
# Faust's internal topic is created up front: on a first start Faust subscribes before it
# creates it, its assignor ignores the missing topic, and the count agent then gets no
# partitions until aiokafka refreshes its metadata (consumer_metadata_max_age_ms, 5 min).
$tool create "$bootstrap" input:8 "$faust_out:8" "$kstreams_out:8" "$mephisto_out:8" "$limit_out:8" \
  "$faust_id-colors_topic:8" >&2
log "producing $words words into input"
counts=$($tool produce "$bootstrap" input "$words" "$seed")
log "input: $counts"
colors=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["colors"])' "$counts")
expect=$(python3 -c 'import json,sys; c=json.loads(sys.argv[1]); print(" ".join(f"{k}={c[k]}" for k in ("red","green","blue")))' "$counts")

results=$work/results.jsonl
: > "$results"
measure() {  # name target topic verify-spec [measure.py options] -- command...
  local name=$1 target=$2 topic=$3 verify=$4; shift 4
  log "running $name (until $topic holds $target records)"
  local out
  out=$(python3 "$peers/measure.py" run --name "$name" --target "$target" --topic "$topic" \
          --tool "$tool" --bootstrap "$bootstrap" --log "$work/logs/$name.log" \
          --timeout "$timeout" --verify "$verify" ${broker_pid:+--broker-pid "$broker_pid"} "$@") || out="{\"name\": \"$name\", \"ok\": false, \"error\": \"measure.py failed\"}"
  echo "$out" >> "$results"
  python3 - "$out" <<'PY' >&2
import json, sys
r = json.loads(sys.argv[1])
if r["ok"]:
    print(f"compare.sh: {r['name']}: {r['processing_s']} s processing, {r['wall_s']} s wall, "
          f"check {r.get('verify', {}).get('ok')}")
else:
    print(f"compare.sh: {r['name']} FAILED: {r.get('error')}\n--- log tail ---\n{r.get('log_tail', '')}---")
PY
}

IFS=, read -ra wanted <<< "$systems"
for sys in "${wanted[@]}"; do
  case "$sys" in
    limit)
      if [ -x "$root/build/apps/mephisto-passthrough" ]; then
        measure limit "$words" "$limit_out" "$words" -- \
          "$root/build/apps/mephisto-passthrough" --broker "kafka://$bootstrap" \
          --from input --to "$limit_out" --count "$words"
      else
        log "limit: not built (build/apps/mephisto-passthrough)"
        echo '{"name": "limit", "ok": false, "skipped": "not built"}' >> "$results"
      fi ;;
    mephisto)
      if [ -x "$root/build/apps/colors" ]; then
        measure mephisto "$colors" "$mephisto_out" "$colors $expect" \
          --internal "$mephisto_id-colors_topic" -- \
          "$root/build/apps/colors" worker --broker "kafka://$bootstrap" --id "$mephisto_id" --log_level warn
      else
        log "mephisto: not built (make build)"
        echo '{"name": "mephisto", "ok": false, "skipped": "not built"}' >> "$results"
      fi ;;
    kstreams)
      rm -rf "$work/kstreams-state"
      measure kstreams "$colors" "$kstreams_out" "$colors $expect" \
        --env "BOOTSTRAP=$bootstrap" --env "APP_ID=$kstreams_id" --env "OUTPUT_TOPIC=$kstreams_out" \
        --env "STATE_DIR=$work/kstreams-state" --env "STREAM_THREADS=$kstreams_threads" \
        --internal "$kstreams_id-colors-repartition" -- \
        java -jar "$jar" ;;
    faust)
      rm -rf "$work/faust" && mkdir -p "$work/faust"
      measure faust "$colors" "$faust_out" "$colors $expect" --cwd "$work/faust" \
        --env "BROKER=kafka://$bootstrap" --env "APP_ID=$faust_id" --env "OUTPUT_TOPIC=$faust_out" \
        --env "PYTHONPATH=$peers/faust" --internal "$faust_id-colors_topic" -- \
        "$peers/.venv/bin/faust" -A app worker -l warn ;;
    *) log "unknown system $sys (limit, mephisto, kstreams, faust)"; exit 64 ;;
  esac
done

python3 - "$results" "$work/results.json" "$words" "$colors" "$bootstrap" "$counts" <<'PY'
import json, os, sys
lines, out, words, colors, broker, counts = sys.argv[1:]
words, colors = int(words), int(colors)
systems, order = {}, []
for line in open(lines):
    r = json.loads(line)
    if r.get("ok") and r.get("processing_s"):
        r["msgs_per_s"] = round(words / r["processing_s"], 1)
    systems[r["name"]] = r
    order.append(r["name"])
rate = lambda n: systems.get(n, {}).get("msgs_per_s")
ratios = {}
for peer, label in (("limit", "Mephisto / limit"), ("faust", "Mephisto / Faust"),
                    ("kstreams", "Mephisto / Kafka Streams")):
    if peer in systems and "mephisto" in systems:
        m, p = rate("mephisto"), rate(peer)
        ratios[label] = round(m / p, 3) if m and p else None
mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
res = {"words": words, "colors": colors, "input": json.loads(counts), "broker": broker,
       "machine": f"{os.cpu_count()} cores, {mem:.0f} GiB", "order": order,
       "systems": systems, "ratios": ratios}
json.dump(res, open(out, "w"), indent=2)
PY
python3 "$peers/measure.py" report "$work/results.json"
log "results in $work/results.json, logs in $work/logs/"
