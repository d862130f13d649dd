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
sm = r["summary"]
for name in ("passthrough", "metrics-scrape", "stage-overhead", "cross-core-hop", "mac-rewrite",
             "stage-cycles"):
    for run in sc[name]["runs"]:
        for variant, m in run.items():
            assert m["mpps"] > 0 and math.isfinite(m["cpp"]), (name, variant, m)
# The stream pipeline replays 16 M packets, and the AF_XDP scenario needs
# a namespace and veth pairs: both only on request (--only), never here.
assert "stream" not in r, "stream-pipeline ran in --quick"
assert "af_xdp" not in r and "af_xdp" not in sc, "af_xdp ran in --quick"
for k in ("filter 1 term", "acl 10000 rules"):
    assert sm["stage-cycles"][k]["cyc_per_pkt"] > 0, k
for key in ("static / testpmd", "shared / testpmd", "static / shared"):
    assert sm["passthrough"][key]["median"] > 0, key
for key in ("static cyc/pkt per added stage", "shared cyc/pkt per added stage"):
    assert math.isfinite(sm["stage-overhead"][key]["median"]), key
assert sm["metrics-scrape"]["scraped / not scraped"]["median"] > 0
assert all(run["scraped 1/s"]["scrapes"] > 0 for run in sc["metrics-scrape"]["runs"])
assert sm["cross-core-hop"]["ring_perf_cpp"] > 0 and sm["cross-core-hop"]["hop_connector_cpp"] > 0
assert r["binaries"]["static"]["bytes"] > 0 and r["binaries"]["shared"]["bytes"] > 0
print("ok: every scenario ran and its figures parse")
PY
