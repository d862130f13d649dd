#!/usr/bin/env bash
# The one-minute soak: tools/soak --minutes 1 on this build tree, bounded by
# 180 s. Passes when tools/soak's checks pass: every packet accounted for,
# no RSS growth beyond 10 % + 8 MiB, flat hugepages and fds, no restarts,
# no refused moves or loads (see tools/soak --help).
. "$(dirname "$0")/lib.sh"

timeout --signal=INT --kill-after=15 180 "$SLUICE_SRC/tools/soak" --minutes 1 --build "$SLUICE_BUILD" \
	--json "$TMP/soak.json" || fail "tools/soak failed (exit $?)"
python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["verdict"]; sys.exit(0 if v == "pass" else 1)' "$TMP/soak.json" ||
	fail "the soak's JSON verdict is not pass"
