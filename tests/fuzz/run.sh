#!/bin/sh
# Runs the libFuzzer targets one after another (never two at once), each for RUNS
# executions (or until MAX_TIME seconds, when > 0), on its seeds in tests/fuzz/corpus/<target>
# plus what earlier runs found (BUILD/fuzz-corpus/<target>), and prints one summary line
# per target. Crashing inputs land in BUILD/fuzz-artifacts/<target>/. Exit status 1 when
# any target crashed. LeakSanitizer reads tests/fuzz/lsan.supp (one glibc record).
#   tests/fuzz/run.sh BUILD RUNS MAX_TIME [target ...]
set -u
build=$1
runs=$2
max_time=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
targets=${*:-"fuzz_codec fuzz_changelog fuzz_rocksdb_value fuzz_config"}
summary=""
status=0
for t in $targets; do
  case $t in
    fuzz_codec) max_len=256 ;;
    fuzz_changelog) max_len=192 ;;
    fuzz_rocksdb_value) max_len=512 ;;
    fuzz_config) max_len=512 ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
  corpus=$build/fuzz-corpus/$t
  artifacts=$build/fuzz-artifacts/$t
  log=$build/fuzz-logs/$t.log
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  dict=""
  [ -f "$here/$t.dict" ] && dict="-dict=$here/$t.dict"
  limit=""
  [ "$max_time" -gt 0 ] && limit=", at most $max_time s"
  echo "== $t: $runs executions (max_len $max_len$limit), log $log"
  start=$(date +%s)
  LSAN_OPTIONS="suppressions=$here/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
    nice -n 19 "$build/tests/fuzz/$t" -runs="$runs" -max_total_time="$max_time" \
    -max_len="$max_len" -timeout=10 -print_final_stats=1 $dict \
    -artifact_prefix="$artifacts/" "$corpus" "$here/corpus/$t" >"$log" 2>&1
  rc=$?
  end=$(date +%s)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$((end - start))
  rate=$(( ${execs:-0} / (secs > 0 ? secs : 1) ))
  crashes=$(find "$artifacts" -type f | wc -l)
  [ $rc -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1
  line="$t: ${execs:-?} executions in $secs s ($rate exec/s), $crashes crashes"
  [ $rc -ne 0 ] && { line="$line (exit $rc; see $log)"; status=1; tail -40 "$log"; }
  echo "$line"
  summary="$summary$line
"
done
echo "== fuzz summary"
printf '%s' "$summary"
exit $status
