#!/usr/bin/env bash
# desktop-smoke.sh builds the real desktop binary (make desktop: tags desktop,production,webkit2_41),
# runs it under Xvfb with a throwaway HOME and checks, as a person would, that the window shows the
# login page rather than a blank or error window:
#   - the embedded backend comes up and answers HTTP (found through $PORTCULLIS_SMOKE_DIR/backend.json);
#   - a screenshot of the screen has many colours and is not uniform;
#   - OCR (tesseract) reads "Portcullis" and a login word on it;
#   - the process is still alive (a binary built without the Wails tags exits 0 at once);
#   - the window is titled "Portcullis — Local";
#   - the first-run wizard: the admin password, typed with xdotool, is set and the window logs in
#     with it and shows the app: the window talks to its embedded backend (binding, launch token,
#     CORS), and no default or generated password is needed;
#   - a terminal to a real OpenSSH sshd on loopback (a throwaway user; set up through the API):
#     "Connect" is clicked where OCR reads it, a command is typed with xdotool, its output is read
#     on the screen and the command is in the session's command log;
#   - SIGTERM shuts it down cleanly, and after a resize and a relaunch on the same data dir the
#     backend comes up again, the window has its saved size and is logged in with the session
#     token the app kept sealed (tokens.enc holds no plain token).
# The screenshots are kept in artifacts/desktop-login.png, artifacts/desktop-after-login.png and
# artifacts/desktop-terminal.png,
# and on failure the app's output and log in artifacts/desktop-smoke.log.
#
# Environment: SMOKE_TIMEOUT (seconds to wait for the backend and then for the page, default 90).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
ART=$ROOT/artifacts
SHOT=$ART/desktop-login.png
SHOT_AFTER=$ART/desktop-after-login.png
SHOT_TERM=$ART/desktop-terminal.png
SHOT_DESK=$ART/desktop-rdp.png
SHOT_REPLAY=$ART/desktop-offline-replay.png
FAKEGUACD=$ROOT/bin/fakeguacd
LOG=$ART/desktop-smoke.log
BINARY=$ROOT/bin/portcullis-desktop
TIMEOUT=${SMOKE_TIMEOUT:-90}
# tesseract's OpenMP threads spin against each other on a small machine: ocr's three readings of a
# screenshot took 20 s on 2 cores (a wait of 20 or 30 s then saw one frame), 2.3 s with one thread.
export OMP_THREAD_LIMIT=1
# The login page shows the product name and a log-in form; OCR must read both kinds of words.
PRODUCT_WORD='portcullis'
LOGIN_WORDS='log ?in|sign ?in|username|user name|password'
MIN_COLOURS=64
# After the first-run wizard the window is in the app: the side menu shows.
AFTER_LOGIN_WORDS='my assets|terminals'
ADMIN_PASSWORD='Smoke-Desktop-Passw0rd1' # chosen in the first-run wizard
TITLE='Portcullis — Local'
RESIZE_W=1100 # the window is resized to this before quitting and must come back so
RESIZE_H=720

say() { printf 'desktop-smoke: %s\n' "$*"; }

# ---------------------------------------------------------------------------------------------
# Outer part: build, prepare a throwaway home, re-run this script inside xvfb-run.
if [ "${1:-}" != --inner ]; then
	for tool in xvfb-run xauth xdotool import identify convert tesseract curl ssh-keygen useradd; do
		command -v "$tool" >/dev/null || { say "FAIL: $tool not found (run make setup)"; exit 1; }
	done
	say "building the desktop binary (make desktop)"
	make --no-print-directory desktop

	mkdir -p "$ART"
	rm -f "$SHOT" "$SHOT_AFTER" "$SHOT_TERM" "$LOG"
	work=$(mktemp -d /tmp/portcullis-smoke.XXXXXX)
	trap 'rm -rf "$work"' EXIT
	mkdir -p "$work/home/.config" "$work/home/.cache" "$work/home/.local/share" "$work/smoke" "$work/run"
	chmod 700 "$work/run"

	say "starting bin/portcullis-desktop under xvfb-run (HOME=$work/home)"
	if env HOME="$work/home" \
		XDG_CONFIG_HOME="$work/home/.config" \
		XDG_CACHE_HOME="$work/home/.cache" \
		XDG_DATA_HOME="$work/home/.local/share" \
		XDG_RUNTIME_DIR="$work/run" \
		PORTCULLIS_SMOKE_DIR="$work/smoke" \
		LANG=C.UTF-8 LC_ALL=C.UTF-8 LANGUAGE= \
		NO_AT_BRIDGE=1 \
		xvfb-run -a -s "-screen 0 1280x800x24" "$0" --inner "$work"; then
		exit 0
	else
		rc=$?
		say "FAILED (exit $rc); screenshots: artifacts/desktop-*.png, app output and log: ${LOG#"$ROOT"/}"
		exit "$rc"
	fi
fi

# ---------------------------------------------------------------------------------------------
# Inner part: runs with DISPLAY set to a fresh Xvfb screen.
work=${2:?work dir}
out=$work/desktop.out
datadir=$XDG_CONFIG_HOME/portcullis/local
passed=0
pid=

check() { passed=$((passed + 1)); say "ok: $*"; }

save_logs() {
	{
		echo "=== app stdout/stderr"
		cat "$out" 2>/dev/null || true
		echo "=== $datadir/desktop.log"
		cat "$datadir/desktop.log" 2>/dev/null || true
	} >"$LOG"
}

fail() {
	say "FAIL: $*"
	save_logs
	say "last lines of the app's output:"
	tail -n 20 "$out" 2>/dev/null | sed 's/^/    /' || true
	say "$passed passed, 1 failed"
	exit 1
}

stop_app() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
}
trap stop_app EXIT

alive() { kill -0 "$pid" 2>/dev/null; }

exited_early() {
	local rc=0
	wait "$pid" || rc=$?
	pid=
	fail "the desktop app exited early with status $rc (a binary built without the Wails tags exits 0 at once)"
}

# launch starts the app (appending to $out) and waits until its backend wrote backend.json.
launch() {
	rm -f "$work/smoke/backend.json"
	echo "=== launch $(date -u +%FT%TZ)" >>"$out"
	"$BINARY" "$@" >>"$out" 2>&1 &
	pid=$!
	local deadline=$((SECONDS + TIMEOUT))
	until [ -s "$work/smoke/backend.json" ]; do
		alive || exited_early
		[ $SECONDS -lt $deadline ] || fail "no $work/smoke/backend.json after ${TIMEOUT}s: the embedded backend did not become ready"
		sleep 0.5
	done
	base_url=$(sed -n 's/.*"base_url":"\([^"]*\)".*/\1/p' "$work/smoke/backend.json")
	launch_token=$(sed -n 's/.*"launch_token":"\([^"]*\)".*/\1/p' "$work/smoke/backend.json")
	[[ $base_url == http://127.0.0.1:* ]] || fail "backend.json has no loopback base_url: $(cat "$work/smoke/backend.json")"
}

# find_window waits for the window titled $TITLE and sets win.
find_window() {
	local deadline=$((SECONDS + 30))
	win=
	until [ -n "$win" ]; do
		alive || exited_early
		win=$(xdotool search --name "^$TITLE\$" 2>/dev/null | head -n1 || true)
		[ -n "$win" ] && break
		[ $SECONDS -lt $deadline ] || fail "no window titled \"$TITLE\" (windows: $(xdotool search --name . getwindowname %@ 2>/dev/null | tr '\n' ',' || true))"
		sleep 0.5
	done
}

# shutdown sends SIGTERM and checks the app exits 0 within 20 s, having stopped its backend.
shutdown() {
	local rc=0 stops
	stops=$(grep -c 'msg="desktop stopped"' "$datadir/desktop.log" 2>/dev/null || true)
	kill -TERM "$pid"
	for _ in $(seq 1 40); do alive || break; sleep 0.5; done
	alive && fail "the desktop app did not exit within 20s of SIGTERM"
	wait "$pid" || rc=$?
	pid=
	[ "$rc" -eq 0 ] || fail "the desktop app exited with status $rc after SIGTERM"
	[ "$(grep -c 'msg="desktop stopped"' "$datadir/desktop.log")" -gt "${stops:-0}" ] ||
		fail "desktop.log does not say the desktop stopped"
	grep -q 'msg="embedded backend stopped"' "$datadir/desktop.log" ||
		fail "desktop.log does not say the embedded backend stopped"
}

# ocr prints what tesseract reads on $1, as is and enlarged in grey (small or light text reads
# better so), on one line.
ocr() {
	convert "$1" -colorspace Gray -resize 200% "$work/ocr-gray.png"
	convert "$work/ocr-gray.png" -negate "$work/ocr-neg.png" # light text on the dark terminal
	{
		tesseract "$1" - 2>/dev/null
		tesseract "$work/ocr-gray.png" - 2>/dev/null
		tesseract "$work/ocr-neg.png" - 2>/dev/null
	} | tr -s '[:space:]' ' '
}

# click_word WORD: clicks the middle of the first word OCR reads as WORD on the screen (read on
# the grey screenshot at twice the size, where small button labels read better).
click_word() {
	import -window root "$work/click.png"
	convert "$work/click.png" -colorspace Gray -resize 200% "$work/click-gray.png"
	local box
	box=$(tesseract "$work/click-gray.png" - tsv 2>/dev/null |
		awk -F'\t' -v w="$1" 'tolower($12) == tolower(w) { print int(($7 + $9 / 2) / 2), int(($8 + $10 / 2) / 2); exit }')
	[ -n "$box" ] || return 1
	# shellcheck disable=SC2086
	xdotool mousemove $box click 1
}
# 1. The embedded backend is ready: the app writes backend.json, and the URL answers HTTP.
launch
check "embedded backend ready at $base_url"

code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$base_url/healthz" || true)
[ "$code" != 000 ] || fail "the embedded backend at $base_url does not answer HTTP"
check "embedded backend answers HTTP ($base_url/healthz without the launch token: $code)"

# 2. The window shows the login page: poll screenshots until one passes, or time out.
reason="no screenshot taken"
shot=$work/shot.png
deadline=$((SECONDS + TIMEOUT))
while :; do
	alive || exited_early
	if import -window root "$shot" 2>"$work/import.err"; then
		cp "$shot" "$SHOT"
		colours=$(identify -format '%k' "$shot")
		stddev=$(identify -format '%[fx:standard_deviation]' "$shot")
		if [ "$colours" -lt "$MIN_COLOURS" ]; then
			reason="screenshot has only $colours distinct colours (want >= $MIN_COLOURS): blank window?"
		elif ! awk -v s="$stddev" 'BEGIN { exit !(s >= 0.02) }'; then
			reason="screenshot is nearly uniform (standard deviation $stddev): blank window?"
		else
			text=$(ocr "$shot")
			if ! grep -qi "$PRODUCT_WORD" <<<"$text"; then
				reason="OCR did not find \"Portcullis\" on the screen; it read: ${text:0:300}"
			elif ! grep -Eqi "$LOGIN_WORDS" <<<"$text"; then
				reason="OCR found no login words ($LOGIN_WORDS) on the screen; it read: ${text:0:300}"
			else
				break
			fi
		fi
	else
		reason="import failed: $(cat "$work/import.err")"
	fi
	[ $SECONDS -lt $deadline ] || fail "the login page did not render within ${TIMEOUT}s: $reason"
	sleep 2
done
check "screenshot has $colours colours, standard deviation $stddev"
check "OCR reads the login page: ${text:0:160}"

# 3. Still alive a moment later (the wrong-tags binary, or a crash after the first paint, is not).
sleep 2
alive || exited_early
check "the desktop app is still running (pid $pid)"

# 4. The window has its title, and logging in through it reaches the forced password change.
find_window
check "window titled \"$TITLE\""

[ -s "$datadir/initial-admin-password" ] || fail "no $datadir/initial-admin-password after the first start"
# The first-run wizard: click into its first password field (its placeholder is the first
# "Please Input" on the screen; no window manager, so focus the window first), type, Enter moves
# to the confirmation.
xdotool windowfocus --sync "$win"
deadline=$((SECONDS + 30))
until click_word Please; do
	[ $SECONDS -lt $deadline ] || fail "no empty password field of the wizard on the screen: $(ocr "$work/click.png" | cut -c1-300)"
	sleep 1
done
xdotool type --delay 20 "$ADMIN_PASSWORD"
xdotool key Return # Enter moves to the confirmation
xdotool type --delay 20 "$ADMIN_PASSWORD"
xdotool key Return
deadline=$((SECONDS + 30))
while :; do
	alive || exited_early
	sleep 1
	if import -window root "$shot" 2>"$work/import.err"; then
		cp "$shot" "$SHOT_AFTER"
		text=$(ocr "$shot")
		grep -Eqi "$AFTER_LOGIN_WORDS" <<<"$text" && break
		reason="OCR found no words of the app ($AFTER_LOGIN_WORDS); it read: ${text:0:300}"
	else
		reason="import failed: $(cat "$work/import.err")"
	fi
	[ $SECONDS -lt $deadline ] || fail "the first-run wizard did not lead into the app within 30s: $reason"
done
[ ! -e "$datadir/initial-admin-password" ] || fail "the one-time password file is still there after the wizard"
check "first-run wizard: admin password chosen in the window, logged in, the app shows"

# 4b. A terminal to a real sshd, through the window.
api() { # api METHOD PATH [JSON]: the embedded backend's API as admin; prints the body
	curl -sS --max-time 10 -X "$1" -H "X-Portcullis-Launch: $launch_token" -H "Authorization: Bearer $admin_token" \
		-H 'Content-Type: application/json' ${3:+--data "$3"} "$base_url/api/v1$2"
}
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1" 2>/dev/null; }
launch_token=$(sed -n 's/.*"launch_token":"\([^"]*\)".*/\1/p' "$work/smoke/backend.json")
[ -n "$launch_token" ] || fail "backend.json has no launch token for the smoke test"
admin_token=$(curl -sS --max-time 10 -H "X-Portcullis-Launch: $launch_token" -H 'Content-Type: application/json' \
	--data "{\"username\":\"admin\",\"password\":\"$ADMIN_PASSWORD\"}" "$base_url/api/v1/auth/login" |
	sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[ -n "$admin_token" ] || fail "cannot log in as admin through the API"
sshd_user=pcsmoke$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
useradd -m -d "$work/sshd-home" -s /bin/bash "$sshd_user"
echo "$sshd_user:Tgt-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')" | chpasswd
sshd_cleanup() { pkill -KILL -u "$sshd_user" 2>/dev/null || true; userdel -f "$sshd_user" 2>/dev/null || true; }
trap 'stop_app; [ -n "${sshd_pid:-}" ] && kill "$sshd_pid" 2>/dev/null; sshd_cleanup' EXIT
ssh-keygen -q -t ed25519 -N '' -f "$work/sshd-host"
ssh-keygen -q -t ed25519 -N '' -f "$work/sshd-user"
sshd_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/sshd_config" <<-CFG
	Port $sshd_port
	ListenAddress 127.0.0.1
	HostKey $work/sshd-host
	PidFile $work/sshd.pid
	AuthorizedKeysFile $work/sshd-user.pub
	StrictModes no
	UsePAM no
	PasswordAuthentication no
	AllowUsers $sshd_user
	LogLevel ERROR
CFG
chmod 755 "$work"
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>>"$out" &
sshd_pid=$!
asset_id=$(api POST /assets "{\"name\":\"smoke-ssh\",\"address\":\"127.0.0.1\",\"platform_id\":1,\"protocols\":[{\"name\":\"ssh\",\"port\":$sshd_port}]}" | json_field id)
[ -n "$asset_id" ] || fail "could not create the asset smoke-ssh"
key_json=$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$work/sshd-user")
api POST /accounts "{\"asset_id\":$asset_id,\"name\":\"deploy\",\"username\":\"$sshd_user\",\"secret_type\":\"ssh_key\",\"secret\":$key_json}" | grep -q '"id"' ||
	fail "could not create the account"
admin_id=$(api GET /me | json_field id)
api POST /permissions "{\"name\":\"smoke\",\"user_ids\":[$admin_id],\"asset_ids\":[$asset_id],\"accounts\":[\"deploy\"],\"protocols\":[\"ssh\"],\"actions\":[\"connect\"]}" | grep -q '"id"' ||
	fail "could not create the permission"

# The app opened on My assets before the asset existed: go to Terminals and back to reload it.
deadline=$((SECONDS + 30))
until click_word Terminals; do
	[ $SECONDS -lt $deadline ] || fail "no \"Terminals\" menu item on the screen: $(ocr "$work/click.png" | cut -c1-300)"
	sleep 1
done
sleep 1
deadline=$((SECONDS + 30))
until click_word My; do
	[ $SECONDS -lt $deadline ] || fail "no \"My assets\" on the screen: $(ocr "$work/click.png" | cut -c1-300)"
	sleep 1
done
deadline=$((SECONDS + 30))
until click_word Connect; do
	alive || exited_early
	[ $SECONDS -lt $deadline ] || fail "no \"Connect\" button on the screen within 30s: $(ocr "$work/click.png" | cut -c1-300)"
	sleep 1
done
# The terminal takes the keyboard once connected: its status line says so.
deadline=$((SECONDS + 30))
until ocr_text=$(import -window root "$shot" && ocr "$shot") && grep -q "Connected" <<<"$ocr_text"; do
	alive || exited_early
	[ $SECONDS -lt $deadline ] || fail "the terminal did not connect within 30s: ${ocr_text:0:300}"
	sleep 1
done
sleep 1 # the shell's prompt
xdotool type --delay 30 'echo smoke-$((6*7))'
xdotool key Return
deadline=$((SECONDS + 20))
until import -window root "$shot" && cp "$shot" "$SHOT_TERM" && grep -q 'smoke-42' <<<"$(ocr "$shot")"; do
	alive || exited_early
	[ $SECONDS -lt $deadline ] || fail "the command's output smoke-42 is not on the screen within 20s: $(ocr "$shot" | cut -c1-300)"
	sleep 1
done
commands=$(api GET '/commands?page_size=20')
grep -q 'echo smoke-$((6\*7))' <<<"$commands" || fail "the command log does not hold the command: ${commands:0:300}"
check "terminal to a real sshd in the window: command typed with xdotool, output on screen, in the command log"

# 4c. A remote desktop tab, through the protocol-level FAKE guacd (guacd is not packaged in Debian;
# the fake speaks the real handshake and sends size/img/sync): guacamole-common-js draws in the window.
[ -x "$FAKEGUACD" ] || CGO_ENABLED=0 go build -o "$FAKEGUACD" ./backend/guacgw/fakeguacd/cmd/fakeguacd
"$FAKEGUACD" -listen 127.0.0.1:0 >"$work/fakeguacd.out" 2>>"$out" &
fakeguacd_pid=$!
trap 'stop_app; [ -n "${sshd_pid:-}" ] && kill "$sshd_pid" 2>/dev/null; kill "$fakeguacd_pid" 2>/dev/null; sshd_cleanup' EXIT
deadline=$((SECONDS + 15))
until guacd_addr=$(sed -n 's/^fakeguacd listening on //p' "$work/fakeguacd.out") && [ -n "$guacd_addr" ]; do
	[ $SECONDS -lt $deadline ] || fail "the fake guacd did not start"
	sleep 0.2
done
api PUT /settings/desktop "{\"guacd_addr\":\"$guacd_addr\",\"record_keys\":false}" | grep -q guacd_addr ||
	fail "could not set the guacd address"
win_id=$(api POST /assets '{"name":"smoke-rdp","address":"192.0.2.90","platform_id":3,"protocols":[{"name":"rdp","port":3389}]}' | json_field id)
[ -n "$win_id" ] || fail "could not create the RDP asset"
api POST /accounts "{\"asset_id\":$win_id,\"name\":\"Administrator\",\"username\":\"Administrator\",\"secret_type\":\"password\",\"secret\":\"Smoke-Rdp-1\"}" | grep -q '"id"' ||
	fail "could not create the RDP account"
api POST /permissions "{\"name\":\"smoke-rdp\",\"user_ids\":[$admin_id],\"asset_ids\":[$win_id],\"accounts\":[\"@ALL\"],\"protocols\":[\"rdp\"],\"actions\":[\"connect\",\"copy\"]}" | grep -q '"id"' ||
	fail "could not create the RDP permission"
deadline=$((SECONDS + 30))
until click_word My; do
	[ $SECONDS -lt $deadline ] || fail "no \"My assets\" on the screen: $(ocr "$work/click.png" | cut -c1-300)"
	sleep 1
done
deadline=$((SECONDS + 30))
until click_word Desktop; do
	alive || exited_early
	[ $SECONDS -lt $deadline ] || fail "no \"Desktop\" button on the screen within 30s: $(ocr "$work/click.png" | cut -c1-300)"
	sleep 1
done
deadline=$((SECONDS + 30))
until live=$(api GET /live-sessions) && grep -q '"kind":"desktop"' <<<"$live" &&
	import -window root "$shot" && cp "$shot" "$SHOT_DESK" && grep -q 'Ctrl+Alt+Del' <<<"$(ocr "$shot")"; do
	alive || exited_early
	[ $SECONDS -lt $deadline ] || fail "no live desktop session with its toolbar in the window within 30s: ${live:0:200} $(ocr "$shot" | cut -c1-300)"
	sleep 1
done
check "remote desktop tab in the window through guacd (the fake): live desktop session, toolbar drawn"

# 5. The window remembers its size: resize, quit with SIGTERM, relaunch on the same data dir.
xdotool windowsize --sync "$win" "$RESIZE_W" "$RESIZE_H"
shutdown
check "clean shutdown on SIGTERM (exit 0, backend stopped)"
state=$(tr -d ' \n' <"$XDG_CONFIG_HOME/portcullis/window.json" 2>/dev/null || true)
[[ $state == *"\"width\":$RESIZE_W,\"height\":$RESIZE_H"* ]] ||
	fail "window.json = ${state:-missing}, want the resized ${RESIZE_W}x$RESIZE_H"
check "window size saved: $state"

launch
find_window
geometry=$(xdotool getwindowgeometry "$win" | sed -n 's/.*Geometry: //p')
[ "$geometry" = "${RESIZE_W}x$RESIZE_H" ] || fail "relaunched window is $geometry, want the saved ${RESIZE_W}x$RESIZE_H"
check "relaunch on the same data dir: backend ready at $base_url, window restored to $geometry"
# The session token of the Local profile was kept, sealed: the relaunched window is logged in.
tokens=$XDG_CONFIG_HOME/portcullis/tokens.enc
[ -s "$tokens" ] || fail "no sealed token file $tokens after logging in"
! grep -q 'pcs_' "$tokens" || fail "$tokens holds a session token in plain text"
deadline=$((SECONDS + 30))
while :; do
	alive || exited_early
	sleep 1
	if import -window root "$shot" 2>"$work/import.err"; then
		text=$(ocr "$shot")
		grep -Eqi "$AFTER_LOGIN_WORDS" <<<"$text" && break
		reason="OCR found no words of the app ($AFTER_LOGIN_WORDS); it read: ${text:0:300}"
	else
		reason="import failed: $(cat "$work/import.err")"
	fi
	[ $SECONDS -lt $deadline ] || fail "the relaunched window is not logged in within 30s: $reason"
done
check "relaunched window logged in with the sealed token (no plain token in $(basename "$tokens"))"
# The terminal session ended with the first run: export it as a signed bundle for the offline replay.
sid=$(api GET '/sessions?page_size=50' | python3 -c 'import json, sys; print(next(s["id"] for s in json.load(sys.stdin)["items"] if s["protocol"] == "ssh"))')
bundle=$work/smoke-session.pcbundle
curl -sS --max-time 30 -H "X-Portcullis-Launch: $launch_token" -H "Authorization: Bearer $admin_token" \
	-o "$bundle" "$base_url/api/v1/sessions/$sid/export" || fail "could not export session $sid"
fingerprint=$(api GET /settings/signing-key | json_field fingerprint)
[ -n "$fingerprint" ] || fail "no signing key fingerprint"
shutdown

# 6. Offline replay: the bundle opened from the command line (as the file manager does) in a fresh
# desktop with no profile ever set up or logged in: the player and the signature check need no server.
export XDG_CONFIG_HOME=$work/fresh-config
datadir=$XDG_CONFIG_HOME/portcullis/local
launch "$bundle"
find_window
deadline=$((SECONDS + 30))
until import -window root "$shot" && cp "$shot" "$SHOT_REPLAY" && grep -q "Verified" <<<"$(ocr "$shot")"; do
	alive || exited_early
	[ $SECONDS -lt $deadline ] || fail "the bundle's verdict is not on the screen within 30s: $(ocr "$shot" | cut -c1-300)"
	sleep 1
done
grep -q "smoke-session" <<<"$(ocr "$shot")" || fail "the bundle's name is not on the screen: $(ocr "$shot" | cut -c1-300)"
check "offline replay of an exported bundle opened from the command line: verified (the server signs with $fingerprint)"
shutdown

save_logs
say "screenshots: ${SHOT#"$ROOT"/} ${SHOT_AFTER#"$ROOT"/} ${SHOT_TERM#"$ROOT"/} ${SHOT_DESK#"$ROOT"/} ${SHOT_REPLAY#"$ROOT"/}"
say "$passed passed, 0 failed"
