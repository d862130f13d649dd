#!/usr/bin/env bash
# Fault: the config file changes while `graph load` reads it.
# A writer rewrites c.yaml in a tight loop, cycling through: config A via
# rename, config B in place (truncate, then written in small pieces), garbage
# in place, A in place, B via rename, binary garbage via rename. Meanwhile
# `sluicectl graph load c.yaml` runs 20 times. A and B put `dataplane` first
# and `mapping` last, so every prefix a reader can see is either invalid or
# the whole of A or B. Expected:
# - every load either succeeds, and the running graph is then A or B (in
#   sluiced's graph show and in the dataplane's own stats segment alike), or is
#   refused with `invalid_config` naming c.yaml:LINE:COL (no hang: each
#   sluicectl is bounded by timeout);
# - the dataplane never dies: same pid, restarts 0, state running;
# - after the writer stops, a load of A succeeds and the final counters
#   balance.
. "$(dirname "$0")/lib.sh"

two_cluster_config > "$TMP/two.yaml"
# dataplane: first, mapping: last.
python3 - "$TMP/two.yaml" "$TMP/a.yaml" <<'PY'
import sys
text = open(sys.argv[1]).read()
head, dp = text.split("\ndataplane:")
open(sys.argv[2], "w").write("dataplane:" + dp.rstrip("\n") + "\n" + head.rstrip("\n") + "\n")
PY
sed 's/    - rx -> parse -> fwd -> tx/    - rx -> parse -> fwd -> extra -> tx/; s/    fwd:   { type: pass }/    fwd:   { type: pass }\n    extra: { type: pass }/; s/  egress:  \[fwd, tx\]/  egress:  [fwd, extra, tx]/' "$TMP/a.yaml" > "$TMP/b.yaml"
grep -q extra "$TMP/b.yaml" && [ "$(head -1 "$TMP/a.yaml")" = "dataplane:" ] && tail -1 "$TMP/a.yaml" | grep -q "egress:  { core: 1 }" ||
	fail "could not derive the configs"
printf 'graph: [ this is : not { valid\n  - yaml: }\n\tports: ][\n' > "$TMP/g1.yaml"
printf '\x00\xff\xfe\x01dataplane:\x00 {{\n\xc3\x28\x80' > "$TMP/g2.yaml"
A="fwd parse rx tx"
B="extra fwd parse rx tx"
cp "$TMP/a.yaml" "$TMP/c.yaml"
start_sluiced -c "$TMP/c.yaml"
pid=$(dp_pid)

python3 - "$TMP" > "$TMP/writer.log" 2>&1 <<'PY' &
import os, sys, time
d = sys.argv[1]
c = f"{d}/c.yaml"
data = {k: open(f"{d}/{k}.yaml", "rb").read() for k in ("a", "b", "g1", "g2")}
def by_rename(k):
    tmp = f"{d}/c.yaml.tmp"
    with open(tmp, "wb") as f:
        f.write(data[k])
    os.rename(tmp, c)
def in_place(k):
    fd = os.open(c, os.O_WRONLY | os.O_TRUNC)
    b = data[k]
    for i in range(0, len(b), 64):   # small pieces: readers see prefixes
        os.write(fd, b[i:i + 64])
    os.close(fd)
steps = [(by_rename, "a"), (in_place, "b"), (in_place, "g1"),
         (in_place, "a"), (by_rename, "b"), (by_rename, "g2")]
n = 0
end = time.time() + 110
while time.time() < end and not os.path.exists(f"{d}/stop"):
    f, k = steps[n % len(steps)]
    f(k)
    n += 1
    time.sleep(0.0002)
print(n)
PY
writer=$!
on_cleanup "touch $TMP/stop"

acked=0 refused=0
for i in $(seq 20); do
	rc=0
	timeout 20 "$SLUICECTL" -s "$TMP/s.sock" --json graph load "$TMP/c.yaml" > "$TMP/l$i.out" 2> "$TMP/l$i.err" || rc=$?
	case $rc in
	0) got=$(graph_stages)
		[ "$got" = "$A" ] || [ "$got" = "$B" ] || fail "load $i acknowledged, but the running graph [$got] is neither config"
		# sluiced's view must be what the dataplane runs (its stats segment).
		dp_got=$("$DP" --read-stats "$PREFIX" --json | python3 -c 'import json,sys; print(" ".join(sorted({s["name"] for s in json.load(sys.stdin)["stages"]})))')
		[ "$dp_got" = "$got" ] || fail "load $i: sluiced shows [$got] but the dataplane runs [$dp_got]"
		acked=$((acked + 1)); echo "ok: load $i: loaded [$got]" ;;
	1) grep -Eq "invalid_config .*c\.yaml:[0-9]+:[0-9]+: " "$TMP/l$i.err" ||
		{ cat "$TMP/l$i.err"; fail "load $i refused without c.yaml:line:col"; }
		refused=$((refused + 1)); echo "ok: load $i: $(cat "$TMP/l$i.err")" ;;
	124) fail "load $i: sluicectl hung (killed after 20 s)" ;;
	*) cat "$TMP/l$i.err"; fail "load $i: sluicectl exited $rc" ;;
	esac
	[ "$(dp_pid)" = "$pid" ] || fail "load $i: the dataplane died (pid $pid -> $(dp_pid))"
done
touch "$TMP/stop"
wait "$writer" || fail "the writer failed: $(cat "$TMP/writer.log")"
echo "ok: 20 loads against $(cat "$TMP/writer.log") rewrites: $acked loaded, $refused refused with file:line:col"
[ "$(status_field restarts)" = 0 ] || fail "restarts: $(status_field restarts)"
[ "$(status_field state)" = running ] || fail "state: $(status_field state)"
cp "$TMP/a.yaml" "$TMP/c.yaml"
ctl graph load "$TMP/c.yaml" > /dev/null || fail "a load of A after the writer stopped"
[ "$(graph_stages)" = "$A" ] || fail "running graph after the final load: $(graph_stages)"
ctl --json shutdown > "$TMP/final.json" || fail "shutdown"
$ACCOUNT "$TMP/final.json" 1
