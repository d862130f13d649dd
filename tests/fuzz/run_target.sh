#!/usr/bin/env bash
# tests/fuzz/run_target.sh: run one libFuzzer target for a while on a scratch
# copy of its seed corpus (the committed corpus never grows), then print one
# summary line: executions, exec/s, coverage (cov, ft) and crashes. Exits 1
# when the target found a crash, leak or timeout, naming the reproducer.
# Used by the meson `fuzz` suite and by tools/fuzz.
#
# usage: run_target.sh EXE SEED_DIR SECONDS MAX_LEN ARTIFACT_DIR [libFuzzer args...]
#   env FUZZ_MERGE_INTO=DIR: afterwards merge new coverage into DIR.
set -uo pipefail

exe=$1 seeds=$2 secs=$3 max_len=$4 art=$5
shift 5
name=$(basename "$exe")
work=$(mktemp -d "${TMPDIR:-/tmp}/sl-fuzz-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$art" /tmp/sl-fuzz
cp -r "$seeds"/. "$work/corpus/" 2> /dev/null || true

# Keep what the caller set; otherwise leaks are checked after every input.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}

log="$art/$name.log"
"$exe" "$work/corpus" -max_total_time="$secs" -max_len="$max_len" -rss_limit_mb=2048 \
	-timeout=10 -print_final_stats=1 -artifact_prefix="$art/" "$@" > "$log" 2>&1
rc=$?

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
repro=$(sed -n 's/.*Test unit written to //p' "$log")
crashes=$(printf '%s' "$repro" | grep -c . || true)
[ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1 # died before writing a unit

printf '%s: %s execs, %s exec/s, cov %s, ft %s, crashes %s\n' "$name" "${execs:-?}" \
	"${rate:-?}" "${cov:-?}" "${ft:-?}" "$crashes"
if [ "$rc" -ne 0 ]; then
	# The stack top of the first report, and where to reproduce it.
	grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|invariant broken|ALARM' "$log" || true
	grep -m8 -E '^ +#[0-9]+ ' "$log" || true
	printf '%s: reproducer: %s\n' "$name" "${repro:-none written, see $log}"
	printf '%s: log: %s\n' "$name" "$log"
	printf '%s: reproduce: %s %s\n' "$name" "$exe" "${repro:-CRASH_FILE}"
	exit 1
fi
if [ -n "${FUZZ_MERGE_INTO:-}" ]; then
	"$exe" -merge=1 -max_len="$max_len" "$FUZZ_MERGE_INTO" "$work/corpus" > "$art/$name.merge.log" 2>&1 ||
		{ echo "$name: merge failed, see $art/$name.merge.log"; exit 1; }
	echo "$name: merged new coverage into $FUZZ_MERGE_INTO"
fi
exit 0
