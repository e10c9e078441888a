#!/usr/bin/env bash
# run.sh starts Portcullis for `make serve` and `make run`.
#
#   run.sh serve PORTCULLISD DATA_DIR HTTP_ADDR          run the server
#   run.sh auto  PORTCULLISD DATA_DIR HTTP_ADDR DESKTOP  the desktop app when a display is
#                                                        available ($DISPLAY or $WAYLAND_DISPLAY),
#                                                        else the server
set -euo pipefail

mode=${1:?mode}
portcullisd=${2:?portcullisd binary}
data_dir=${3:?data dir}
http_addr=${4:?http address}
desktop=${5:-}

serve() {
	mkdir -p "$data_dir"
	cat <<-MSG
		Portcullis server (portcullisd)
		  URL:          https://$http_addr/  (a self-signed certificate made on the first start;
		                portcullisd prints its SHA-256 fingerprint below: compare it with what the
		                browser shows before you accept it)
		  Data dir:     $data_dir
		  First login:  on the very first start portcullisd creates the admin account with a
		                one-time password for the user "admin", written to
		                $data_dir/initial-admin-password
		                (readable by you only). Log in with it at the URL above and choose a new one.
		Stop with Ctrl+C.

	MSG
	exec "$portcullisd" serve --data-dir "$data_dir" --http "$http_addr"
}

case $mode in
serve)
	serve
	;;
auto)
	if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
		config_home=${XDG_CONFIG_HOME:-$HOME/.config}
		cat <<-MSG
			Portcullis desktop (Local profile)
			  Data dir:     $config_home/portcullis/local (log: desktop.log)
			  First login:  user "admin"; the one-time password is in
			                $config_home/portcullis/local/initial-admin-password

		MSG
		exec "${desktop:?desktop binary}"
	fi
	echo "No display (\$DISPLAY / \$WAYLAND_DISPLAY unset): running the server instead of the desktop app."
	echo
	serve
	;;
*)
	echo "run.sh: unknown mode $mode" >&2
	exit 2
	;;
esac
