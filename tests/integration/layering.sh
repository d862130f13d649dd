#!/usr/bin/env bash
# The layering holds (issue 8): tools/check-layout passes on the tree, and
# fails on a copy where a driver includes the control daemon (an include
# pointing up) or where two modules of sluiced include each other (a
# circle); sluicectl links no DPDK library.
. "$(dirname "$0")/lib.sh"

"$SLUICE_SRC/tools/check-layout" --root "$SLUICE_SRC" || fail "check-layout fails on the tree"

copy() {
	rm -rf "$TMP/t"
	mkdir "$TMP/t"
	(cd "$SLUICE_SRC" && git ls-files -z -co --exclude-standard '*.c' '*.h' | tar --null -T - -cf -) | tar -C "$TMP/t" -xf -
}
copy
sed -i 's|#include "drivers/port.h"|#include "drivers/port.h"\n#include "control/server.h"|' "$TMP/t/drivers/dpdk.c"
if "$SLUICE_SRC/tools/check-layout" --root "$TMP/t" > "$TMP/up.txt"; then fail "an upward include passed"; fi
grep -q "drivers/dpdk.c:.*includes control/server.h: layer drivers (rank 1) may not include layer control (rank 5)" "$TMP/up.txt" ||
	{ cat "$TMP/up.txt"; fail "the upward include was not named"; }
echo "ok: an upward include is caught: $(head -1 "$TMP/up.txt")"

copy
sed -i 's|#include "control/server.h"|#include "control/server.h"\n#include "control/supervisor.h"|' "$TMP/t/control/server.c"
if "$SLUICE_SRC/tools/check-layout" --root "$TMP/t" > "$TMP/circle.txt"; then fail "a circle passed"; fi
grep -q "include circle: .*control/server -> control/supervisor\|include circle: .*control/supervisor -> control/server" "$TMP/circle.txt" ||
	{ cat "$TMP/circle.txt"; fail "the circle was not named"; }
echo "ok: a circle is caught: $(cat "$TMP/circle.txt")"

if ldd "$SLUICECTL" | grep -q librte_; then
	ldd "$SLUICECTL"
	fail "sluicectl links DPDK"
fi
echo "ok: sluicectl links $(ldd "$SLUICECTL" | awk '{print $1}' | tr '\n' ' ')"
