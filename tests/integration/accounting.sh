#!/usr/bin/env bash
# Several million packets from net_null over two clusters on two cores: for
# every stage and connector, in == out + counted drops, and the ports agree
# with the stages.
. "$(dirname "$0")/lib.sh"

sed "s/name: two-cluster/name: $PREFIX/" "$SLUICE_SRC/config/examples/two-cluster.yaml" > "$TMP/a.yaml"
run_dp -c "$TMP/a.yaml" --duration 3 --stats-json "$TMP/stats.json" > "$TMP/dp.log" 2>&1 ||
	{ cat "$TMP/dp.log"; fail "sluice-dp exited non-zero"; }
$CHECK account "$TMP/stats.json" 3000000
