#!/usr/bin/env bash
# Every config under config/ validates, runs on its virtual devices, moves
# packets and balances its counters.
. "$(dirname "$0")/lib.sh"

# Examples name their companion files (rule lists, eBPF objects, capture
# output) relative to themselves: give the copies the same neighbours.
for f in "$SLUICE_SRC"/config/examples/* "$SLUICE_BUILD"/config/examples/*.o; do
	[ -f "$f" ] && case "$f" in *.yaml) ;; *) cp "$f" "$TMP/" ;; esac
done
for f in "$SLUICE_SRC"/config/examples/*.yaml; do
	name=$(basename "$f" .yaml)
	sed "s/^  name: .*/  name: $PREFIX/" "$f" > "$TMP/$name.yaml"
	"$DP" --check -c "$TMP/$name.yaml" > /dev/null || fail "$name: --check failed"
	run_dp -c "$TMP/$name.yaml" --duration 1 --stats-json "$TMP/$name.json" > "$TMP/$name.log" 2>&1 ||
		{ cat "$TMP/$name.log"; fail "$name: sluice-dp exited non-zero"; }
	echo -n "$name: "
	$CHECK account "$TMP/$name.json" 1000
done
