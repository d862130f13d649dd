#!/usr/bin/env bash
# tools/bench --quick as a smoke test: every scenario runs (or is listed as
# not available) and its figures parse. No timing is asserted.
. "$(dirname "$0")/lib.sh"

timeout 600 "$SLUICE_SRC/tools/bench" --quick --json "$TMP/bench.json" > "$TMP/bench.txt" 2>&1 ||
	{ cat "$TMP/bench.txt"; fail "tools/bench --quick failed"; }
cat "$TMP/bench.txt"
python3 - "$TMP/bench.json" <<'PY'
import json, math, sys
r = json.load(open(sys.argv[1]))
sc = r["scenarios"]
for name in ("passthrough", "stage-overhead", "cross-core-hop"):
    for run in sc[name]["runs"]:
        for variant, m in run.items():
            assert m["mpps"] > 0 and math.isfinite(m["cpp"]), (name, variant, m)
for name in ("mac-rewrite", "stream-pipeline", "af_xdp"):
    assert sc[name]["available"] is False and sc[name]["why"], sc[name]
assert r["summary"]["passthrough_ratio"] > 0 and r["summary"]["ring_perf_cpp"] > 0
assert r["summary"]["hop_connector_cpp"] > 0
print("ok: every scenario ran and its figures parse")
PY
