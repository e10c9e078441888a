#!/usr/bin/env bash
# desktop-bench.sh measures the desktop app (bin/portcullis-desktop, built by make desktop) under
# Xvfb, for `make bench`:
#   - cold start: from exec to the moment the page, loaded and running, asks the app for its
#     backend (the app logs "window asked for its backend" with since_start_ms) with a fresh
#     HOME each time (first start: new database, migrations, the initial admin), median of 3;
#     the first run also takes a screenshot then, to show the login screen is up;
#   - idle memory: RSS of the app and its WebKit processes 10 s after the login screen showed;
#   - the same for bin/desktopfloor (bench/desktopfloor: the smallest Wails v2 window, one static
#     page, no backend), as the floor WebKitGTK and Wails set: what is left between the two is
#     Portcullis' own cost.
# Targets (issue 4): cold start under 2 s, idle RSS under 200 MB. Prints a table and writes it to
# artifacts/bench-desktop.txt.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BINARY=$ROOT/bin/portcullis-desktop
FLOOR=$ROOT/bin/desktopfloor
OUT=$ROOT/artifacts/bench-desktop.txt
RUNS=${DESKTOP_BENCH_RUNS:-3}

say() { printf 'desktop-bench: %s\n' "$*"; }

if [ "${1:-}" != --inner ]; then
	for tool in xvfb-run xauth import; do
		command -v "$tool" >/dev/null || { say "skipped: $tool not found (run make setup)"; exit 0; }
	done
	[ -x "$BINARY" ] || make --no-print-directory desktop
	CGO_ENABLED=1 go build -tags desktop,production,webkit2_41 -o "$FLOOR" ./bench/desktopfloor
	mkdir -p "$ROOT/artifacts"
	exec xvfb-run -a -s "-screen 0 1280x800x24" "$0" --inner
fi

# tree_mem PID: "RSS PSS" (KiB) of PID and all its descendants, and each process's share.
tree_mem() {
	local rss=0 pss=0 p kids r q
	local -a todo=("$1")
	detail=
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
		q=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
		rss=$((rss + ${r:-0}))
		pss=$((pss + ${q:-0}))
		detail="$detail $(cat "/proc/$p/comm" 2>/dev/null) RSS $((${r:-0} / 1024)) MB PSS $((${q:-0} / 1024)) MB;"
		kids=$(cat /proc/"$p"/task/*/children 2>/dev/null || true)
		for k in $kids; do todo+=("$k"); done
	done
	echo "$rss $pss"
}

# launch BINARY: starts it in the background with a fresh HOME under a new $work; sets pid.
launch() {
	work=$(mktemp -d /tmp/portcullis-dbench.XXXXXX)
	mkdir -p "$work/home/.config"
	HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_CACHE_HOME=$work/home/.cache XDG_DATA_HOME=$work/home/.local/share \
		"$1" >"$work/out.txt" 2>&1 &
	pid=$!
}

starts=()
rss_kib=0
pss_kib=0
detail=
for i in $(seq 1 "$RUNS"); do
	launch "$BINARY"
	log=$work/home/.config/portcullis/local/desktop.log
	ms=
	for _ in $(seq 1 300); do
		ms=$(sed -n 's/.*msg="window asked for its backend".*since_start_ms=\([0-9]*\).*/\1/p' "$log" 2>/dev/null | head -n1 || true)
		[ -n "$ms" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$ms" ]; then
		kill -KILL "$pid" 2>/dev/null || true
		say "run $i: the window never asked for its backend; output: $(tail -5 "$work/out.txt")"
		rm -rf "$work"
		exit 1
	fi
	starts+=("$ms")
	if [ "$i" -eq 1 ]; then
		sleep 1
		import -window root "$ROOT/artifacts/desktop-bench-login.png" 2>/dev/null || true
		sleep 9
		read -r rss_kib pss_kib < <(tree_mem "$pid")
		tree_mem "$pid" >/dev/null
	fi
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -rf "$work"
	say "run $i: cold start ${ms} ms"
done

# The floor: a blank Wails window, measured the same way (10 s after its page loaded).
app_detail=$detail
launch "$FLOOR"
sleep 11
if kill -0 "$pid" 2>/dev/null; then
	read -r floor_rss floor_pss < <(tree_mem "$pid")
	tree_mem "$pid" >/dev/null
	floor_detail=$detail
else
	floor_rss=0 floor_pss=0 floor_detail=" exited: $(tail -3 "$work/out.txt")"
fi
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
rm -rf "$work"
detail=$app_detail

median=$(printf '%s\n' "${starts[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
rss_mb=$((rss_kib / 1024))
status_start=MISS
[ "$median" -lt 2000 ] && status_start=ok
status_rss=MISS
[ "$rss_mb" -lt 200 ] && status_rss=ok
{
	echo "Portcullis desktop (Xvfb 1280x800, fresh HOME each run: first start with a new database)"
	printf '%-52s %-12s %-12s %s\n' metric value target status
	printf '%-52s %-12s %-12s %s\n' "cold start to the running login page (median of $RUNS)" "${median} ms" "< 2000 ms" "$status_start"
	printf '%-52s %-12s %-12s %s\n' "idle RSS, app and WebKit processes, 10 s after start" "${rss_mb} MB" "< 200 MB" "$status_rss"
	echo
	printf '%-52s %-12s %-12s %s\n' "idle PSS (shared libraries counted once)" "$((pss_kib / 1024)) MB" "(info)" ""
	printf '%-52s %-12s %-12s %s\n' "floor: blank Wails window, idle RSS" "$((floor_rss / 1024)) MB" "(info)" ""
	printf '%-52s %-12s %-12s %s\n' "floor: blank Wails window, idle PSS" "$((floor_pss / 1024)) MB" "(info)" ""
	printf '%-52s %-12s %-12s %s\n' "Portcullis over the floor: RSS / PSS" "$(((rss_kib - floor_rss) / 1024)) / $(((pss_kib - floor_pss) / 1024)) MB" "(info)" ""
	echo
	echo "processes:$detail"
	echo "floor processes:$floor_detail"
	echo "runs (ms): ${starts[*]}; screenshot of the first run: artifacts/desktop-bench-login.png"
} | tee "$OUT"
