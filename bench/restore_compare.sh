#!/usr/bin/env bash
# Table recovery side by side: Mephisto's restore (mephisto-bench --restore-scale) and Kafka
# Streams' (bench/peers/kstreams RestoreStreams) of equal count-table changelogs on the same
# broker: KEYS keys, 3 records each, one partition, the same keys in the same order. Each
# side writes its own changelog (values: Mephisto's decimal text, Streams' 8-byte longs),
# then restores it from nothing into a memory store and into RocksDB.
#
#   bench/restore_compare.sh --broker kafka://HOST:PORT [--keys 1000000[,10000000...]] [--rounds N]
#
# With --rounds N (this machine is shared and noisy), each side restores N times and the
# ratios are those of the medians.
#
# Needs build/apps/mephisto-bench (make build) and the Kafka Streams peer
# (bench/peers/install.sh). The real broker: tests/kafka/kafka.sh start DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
broker=""
keys=1000000
rounds=1
ks_rows=()
while [ $# -gt 0 ]; do
  case $1 in
    --broker) broker=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "usage: $0 --broker kafka://HOST:PORT [--keys N[,N...]] [--rounds N]" >&2; exit 2 ;;
  esac
done
[ -n "$broker" ] || { echo "$0: --broker kafka://HOST:PORT is required" >&2; exit 2; }
bench=$root/build/apps/mephisto-bench
jar=$here/peers/kstreams/target/colors-streams.jar
[ -x "$bench" ] || { echo "$0: $bench missing: make build" >&2; exit 1; }
[ -f "$jar" ] || { echo "$0: $jar missing: bench/peers/install.sh" >&2; exit 1; }

echo "== Mephisto"
mephisto=$("$bench" --restore-scale --scale-keys "$keys" --rounds "$rounds" --broker "$broker" \
             | tee /dev/stderr)
echo "== Kafka Streams 4.1.1"
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for n in ${keys//,/ }; do
  declare -A ks=()
  for store in memory rocksdb; do
    rates=""
    for ((round = 1; round <= rounds; ++round)); do
      line=$(BOOTSTRAP=${broker#kafka://} KEYS=$n STORE=$store \
               java -Xmx8g -cp "$jar:$here/peers/kstreams/target/lib/*" io.mephisto.bench.RestoreStreams \
               2>/dev/null | grep '^{')
      echo "kafka streams $store: $line" >&2
      rates+="$(echo "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["records_per_s"])')"$'\n'
    done
    ks[$store]=$(printf '%s' "$rates" | median)
  done
  ks_rows+=("$n ${ks[memory]} ${ks[rocksdb]}")
done
printf '%9s | %12s %12s | %12s %12s\n' keys "mem rec/s" "mem x KS" "rdb rec/s" "rdb x KS"
for row in "${ks_rows[@]}"; do
  read -r n km kr <<< "$row"
  # Mephisto's row for n keys (its median with --rounds): memory records/s is field 7,
  # RocksDB's field 12 (see its header).
  echo "$mephisto" | awk -v n="$n" -v km="$km" -v kr="$kr" '$1 == n {
    printf "%9s | %12.0f %12.2f | %12.0f %12.2f   (Kafka Streams: memory %.0f, RocksDB %.0f records/s)\n",
      n, $7, $7 / km, $12, $12 / kr, km, kr }'
done
