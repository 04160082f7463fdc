#!/usr/bin/env bash
# Compares Mephisto with its peers on one real Kafka broker and the same pre-produced input, one
# system after the other. Run on demand, not in CI. Three workloads (--workload):
#   colors   the colors pipeline (see README.md) in Mephisto, Faust and Kafka Streams, and a plain
#            copy ("limit"); --words words (red green blue yellow black white cat dog, uniformly,
#            seeded, word i to partition i % 8); done when the output holds one record per color
#            word (N records for limit); the check: record count, final count per color
#   windows  emit-final counts per key and 1-minute tumbling window (grace 0): --words events,
#            keys k<random < --keys>, timestamps spread evenly over --span-ms from 2 hours ago,
#            partitioned by key, then one later record per partition that closes every window;
#            done when the output holds one record per (key, window) with events; the check:
#            that many distinct <key>@<window start ms> keys whose counts sum to the events
#   join     --words clicks (user u<random < --keys> -> page) joined with a table of --keys users
#            (u<i> -> country c<i % 50>, produced first), --join table (co-partitioned table) or
#            global (global table); done when the output holds one record per click; the check:
#            every record is u<i> -> p<n>,c<i % 50>
# windows and join compare mephisto (build/apps/mephisto-stream-ops) and kstreams only.
#
#   bench/compare.sh [--workload colors|windows|join] [--words 1000000] [--keys 100000]
#                    [--span-ms 600000] [--join table|global] [--bootstrap host:port]
#                    [--systems limit,mephisto,kstreams,faust (windows, join: mephisto,kstreams)]
#                    [--timeout SECONDS] [--kstreams-threads 1] [--kstreams-commit-ms MS]
#
# Without --bootstrap it starts a broker with tests/kafka/kafka.sh in bench/peers/work/kafka
# and stops it at the end. It deletes and recreates the workload's topics, the internal topics
# of its apps and their groups, produces the input once, then runs each system alone as a
# process until its output topic holds the expected records, and stops it.
#   wall s        launch -> last output record (start-up, group join, recovery included)
#   processing s  first record the system wrote (to its repartition or changelog topics, or
#                 output) -> last output record; msgs/s = input words (events, clicks) /
#                 processing s. Use >= 1M: the high watermarks are polled every 10 ms.
#   CPU s, RSS    utime+stime and peak RSS (VmHWM) of the process tree at the last record
# Every output is then read back and checked. --span-ms above 110 minutes puts timestamps in
# the future, which the broker refuses beyond 1 hour (log.message.timestamp.after.max.ms).
# windows: Kafka Streams keeps its default record cache, which holds the window counts back
# until it evicts them or commits (--kstreams-commit-ms; 30 s by default): its first changelog
# record (processing start) and its last windows (closed by the last input) wait for that.
# Results: a Markdown table on stdout and bench/peers/work/results.json; logs in
# bench/peers/work/logs/. Needs bench/peers/install.sh and `make build` first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peers=$root/bench/peers
work=$peers/work
workload=colors
words=1000000
keys=100000
span_ms=600000
join=table
bootstrap=
systems=
timeout=600
kstreams_threads=1
kstreams_commit_ms=  # Streams' commit.interval.ms; its default (30000 at least once) when empty
seed=42

while [ $# -gt 0 ]; do
  case "$1" in
    --workload) workload=$2; shift 2 ;;
    --words) words=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --span-ms) span_ms=$2; shift 2 ;;
    --join) join=$2; shift 2 ;;
    --bootstrap) bootstrap=$2; shift 2 ;;
    --systems) systems=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --kstreams-threads) kstreams_threads=$2; shift 2 ;;
    --kstreams-commit-ms) kstreams_commit_ms=$2; shift 2 ;;
    -h|--help) sed -n '2,39p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown argument $1 (--help)" >&2; exit 64 ;;
  esac
done

log() { echo "compare.sh: $*" >&2; }
case "$workload" in
  colors) systems=${systems:-limit,mephisto,kstreams,faust} ;;
  windows|join) systems=${systems:-mephisto,kstreams} ;;
  *) log "unknown workload $workload (colors, windows, join)"; exit 64 ;;
esac
case "$join" in
  table|global) ;;
  *) log "--join is table or global, not $join"; exit 64 ;;
esac
jar=$peers/kstreams/target/colors-streams.jar
# The jar holds BenchTool, which every run needs; Faust only when it is compared.
[ -f "$jar" ] || { log "peers missing: run bench/peers/install.sh"; exit 1; }
if [ "$workload" = colors ]; then
  case ",$systems," in
    *,faust,*) [ -x "$peers/.venv/bin/faust" ] || { log "Faust missing: run bench/peers/install.sh"; exit 1; } ;;
  esac
fi
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
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# Per workload: app ids and output topics, the input (produced: its JSON summary), the record
# count every system's output must reach (target; the limit's: the words), the check
# (verify_cmd verify_args) and the topics each system writes before its output (processing
# starts at the first record in one of them or in the output). reset deletes the topics, every
# topic named after an app id (internal topics) and the apps' groups.
verify_cmd=verify
case "$workload" in
  colors)
    # (Mephisto's output topic is fixed: output)
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
    produced=$($tool produce "$bootstrap" input "$words" "$seed")
    log "input: $produced"
    target=$(field "$produced" colors)
    verify_args="$target $(python3 -c 'import json,sys; c=json.loads(sys.argv[1]); print(" ".join(f"{k}={c[k]}" for k in ("red","green","blue")))' "$produced")"
    kstreams_internal=("$kstreams_id-colors-repartition")
    mephisto_internal=("$mephisto_id-colors_topic") ;;
  windows)
    kstreams_id=windows-kstreams-bench; kstreams_out=kstreams_windows_output
    mephisto_id=windows-mephisto-bench; mephisto_out=output_windows
    $tool reset "$bootstrap" "events,$kstreams_out,$mephisto_out" \
      "$kstreams_id,$mephisto_id" "$kstreams_id,$mephisto_id" >&2
    $tool create "$bootstrap" events:8 "$kstreams_out:8" "$mephisto_out:8" >&2
    log "producing $words events over $keys keys and $span_ms ms into events"
    produced=$($tool produce-windows "$bootstrap" events "$words" "$keys" "$span_ms" "$seed")
    log "input: $produced"
    target=$(field "$produced" windows)
    verify_cmd=verify-windows; verify_args="$target $words"
    # Streams: the window store's changelog, and the suppress buffer's (named in WindowCountStreams)
    kstreams_internal=("$kstreams_id-window-counts-changelog" "$kstreams_id-window-counts-suppress-store-changelog")
    mephisto_internal=("$mephisto_id-window_counts-changelog") ;;
  join)
    kstreams_id=join-kstreams-bench; kstreams_out=kstreams_join_output
    mephisto_id=join-mephisto-bench; mephisto_out=output_join
    $tool reset "$bootstrap" "users,clicks,$kstreams_out,$mephisto_out" \
      "$kstreams_id,$mephisto_id" "$kstreams_id,$mephisto_id" >&2
    $tool create "$bootstrap" users:8 clicks:8 "$kstreams_out:8" "$mephisto_out:8" >&2
    log "producing $keys users, then $words clicks"
    produced=$($tool produce-join "$bootstrap" users clicks "$words" "$keys" "$seed")
    log "input: $produced"
    target=$words
    verify_cmd=verify-join; verify_args=$words
    # Streams logs a source KTable's store (no topology optimization), not a GlobalKTable's.
    # Global tables read their topic itself: neither side has a changelog then
    kstreams_internal=(); mephisto_internal=()
    [ "$join" = global ] || kstreams_internal=("$kstreams_id-users-changelog")
    [ "$join" = global ] || mephisto_internal=("$mephisto_id-users-changelog") ;;
esac

results=$work/results.jsonl
: > "$results"
measure() {  # name target topic verify-args internal-topics [measure.py options] -- command...
  local name=$1 target=$2 topic=$3 verify=$4 internal=() t; shift 4
  for t in $1; do internal+=(--internal "$t"); done; shift
  log "running $name (until $topic holds $target records)"
  local out
  out=$(python3 "$peers/measure.py" run --name "$name" --target "$target" --topic "$topic" \
          --tool "$tool" --bootstrap "$bootstrap" --log "$work/logs/$name.log" \
          --timeout "$timeout" --verify "$verify" --verify-command "$verify_cmd" "${internal[@]}" \
          ${broker_pid:+--broker-pid "$broker_pid"} "$@") || out="{\"name\": \"$name\", \"ok\": false, \"error\": \"measure.py failed\"}"
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
skip() {  # name reason: the result of a system that did not run
  echo "{\"name\": \"$1\", \"ok\": false, \"skipped\": \"$2\"}" >> "$results"
}

IFS=, read -ra wanted <<< "$systems"
for sys in "${wanted[@]}"; do
  case "$workload,$sys" in
    colors,limit)
      if [ -x "$root/build/apps/mephisto-passthrough" ]; then
        measure limit "$words" "$limit_out" "$words" "" -- \
          "$root/build/apps/mephisto-passthrough" --broker "kafka://$bootstrap" \
          --from input --to "$limit_out" --count "$words"
      else
        log "limit: not built (build/apps/mephisto-passthrough)"
        skip limit "not built"
      fi ;;
    colors,mephisto)
      if [ -x "$root/build/apps/colors" ]; then
        measure mephisto "$target" "$mephisto_out" "$verify_args" "${mephisto_internal[*]}" -- \
          "$root/build/apps/colors" worker --broker "kafka://$bootstrap" --id "$mephisto_id" --log_level warn
      else
        log "mephisto: not built (make build)"
        skip mephisto "not built"
      fi ;;
    colors,kstreams)
      rm -rf "$work/kstreams-state"
      measure kstreams "$target" "$kstreams_out" "$verify_args" "${kstreams_internal[*]}" \
        --env "BOOTSTRAP=$bootstrap" --env "APP_ID=$kstreams_id" --env "OUTPUT_TOPIC=$kstreams_out" \
        --env "STATE_DIR=$work/kstreams-state" --env "STREAM_THREADS=$kstreams_threads" \
        --env "COMMIT_INTERVAL_MS=$kstreams_commit_ms" -- \
        java -jar "$jar" ;;
    colors,faust)
      rm -rf "$work/faust" && mkdir -p "$work/faust"
      measure faust "$target" "$faust_out" "$verify_args" "$faust_id-colors_topic" --cwd "$work/faust" \
        --env "BROKER=kafka://$bootstrap" --env "APP_ID=$faust_id" --env "OUTPUT_TOPIC=$faust_out" \
        --env "PYTHONPATH=$peers/faust" -- \
        "$peers/.venv/bin/faust" -A app worker -l warn ;;
    *,limit|*,faust)
      log "$sys: skipped (no $workload peer)"
      skip "$sys" "no $workload peer" ;;
    *,mephisto)
      if [ -x "$root/build/apps/mephisto-stream-ops" ]; then
        measure mephisto "$target" "$mephisto_out" "$verify_args" "${mephisto_internal[*]}" \
          --env "WORKLOAD=$workload" --env "OUTPUT_TOPIC=$mephisto_out" --env "JOIN=$join" -- \
          "$root/build/apps/mephisto-stream-ops" worker --broker "kafka://$bootstrap" --id "$mephisto_id" \
          --log_level warn --topic_partitions 8 --retry_attempts 30
      else
        log "mephisto: not built (build/apps/mephisto-stream-ops)"
        skip mephisto "not built"
      fi ;;
    *,kstreams)
      rm -rf "$work/kstreams-state"
      main=io.mephisto.bench.WindowCountStreams
      [ "$workload" = join ] && main=io.mephisto.bench.JoinStreams
      measure kstreams "$target" "$kstreams_out" "$verify_args" "${kstreams_internal[*]}" \
        --env "BOOTSTRAP=$bootstrap" --env "APP_ID=$kstreams_id" --env "OUTPUT_TOPIC=$kstreams_out" \
        --env "STATE_DIR=$work/kstreams-state" --env "STREAM_THREADS=$kstreams_threads" --env "JOIN=$join" \
        --env "COMMIT_INTERVAL_MS=$kstreams_commit_ms" -- \
        java -cp "$jar" "$main" ;;
    *) log "unknown system $sys (limit, mephisto, kstreams, faust)"; exit 64 ;;
  esac
done

python3 - "$results" "$work/results.json" "$workload" "$words" "$target" "$bootstrap" "$produced" \
  "$keys" "$span_ms" "$join" <<'PY'
import json, os, sys
lines, out, workload, words, target, broker, produced, keys, span_ms, join = sys.argv[1:]
words, target = int(words), int(target)  # words: the input records (words, events or clicks)
systems, order = {}, []
for line in open(lines):
    r = json.loads(line)
    if r.get("ok") and r.get("processing_s"):
        r["msgs_per_s"] = round(words / r["processing_s"], 1)
    systems[r["name"]] = r
    order.append(r["name"])
rate = lambda n: systems.get(n, {}).get("msgs_per_s")
ratios = {}
peers = [("kstreams", "Mephisto / Kafka Streams")]
if workload == "colors":
    peers = [("limit", "Mephisto / limit"), ("faust", "Mephisto / Faust")] + peers
for peer, label in peers:
    if peer in systems and "mephisto" in systems:
        m, p = rate("mephisto"), rate(peer)
        ratios[label] = round(m / p, 3) if m and p else None
mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
res = {"workload": workload}
if workload == "colors":
    res.update(words=words, colors=target)
elif workload == "windows":
    res.update(events=words, keys=int(keys), span_ms=int(span_ms), windows=target)
else:
    res.update(events=words, keys=int(keys), join=join)
res.update({"input": json.loads(produced), "broker": broker,
            "machine": f"{os.cpu_count()} cores, {mem:.0f} GiB", "order": order,
            "systems": systems, "ratios": ratios})
json.dump(res, open(out, "w"), indent=2)
PY
python3 "$peers/measure.py" report "$work/results.json"
log "results in $work/results.json, logs in $work/logs/"
