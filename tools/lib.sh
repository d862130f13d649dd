# tools/lib.sh: set-up and build steps shared by tools/run, tools/test and
# tools/bench.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

sl_build() { # sl_build DIR [meson options...]
	local dir=$1
	shift
	if [ ! -f "$ROOT/$dir/build.ninja" ]; then
		meson setup "$ROOT/$dir" "$ROOT" "$@" > "$ROOT/$dir.setup.log" 2>&1 ||
			{ cat "$ROOT/$dir.setup.log"; return 1; }
		rm -f "$ROOT/$dir.setup.log"
	elif [ $# -gt 0 ]; then
		# An existing tree gets the options it is asked for (a tree set up
		# by hand, or by an older version of these scripts).
		meson configure "$ROOT/$dir" "$@" > /dev/null
	fi
	ninja -C "$ROOT/$dir" > /dev/null || ninja -C "$ROOT/$dir"
}
