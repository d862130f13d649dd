#!/usr/bin/env bash
# Every config under config/ validates, runs on its virtual devices, moves
# packets and balances its counters.
. "$(dirname "$0")/lib.sh"

for f in "$SLUICE_SRC"/config/examples/*.yaml; do
	name=$(basename "$f" .yaml)
	sed "s/^  name: .*/  name: $PREFIX/" "$f" > "$TMP/$name.yaml"
	"$DP" --check -c "$TMP/$name.yaml" > /dev/null || fail "$name: --check failed"
	run_dp -c "$TMP/$name.yaml" --duration 1 --stats-json "$TMP/$name.json" > "$TMP/$name.log" 2>&1 ||
		{ cat "$TMP/$name.log"; fail "$name: sluice-dp exited non-zero"; }
	echo -n "$name: "
	$CHECK account "$TMP/$name.json" 1000
done
