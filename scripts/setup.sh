#!/usr/bin/env bash
# setup.sh installs everything Portcullis needs to build and test on Debian 12:
# apt packages, the frontend's npm modules and the Go tools (into ./bin).
# Each step checks first, so a re-run on a ready machine takes a second or two.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

STATICCHECK_VERSION=v0.8.2 # staticcheck 2026.1.x, built for go1.26

APT_PACKAGES=(
	# desktop build (Wails v2, WebKitGTK 4.1)
	build-essential pkg-config libgtk-3-dev libwebkit2gtk-4.1-dev
	# browser e2e and desktop smoke tests
	chromium xvfb xauth xdotool imagemagick tesseract-ocr fonts-noto-cjk fonts-noto-color-emoji
	# real components used by the backend tests
	openssh-server openssh-client asciinema ssh-audit
	postgresql postgresql-client mariadb-server mariadb-client redis-server redis-tools
	inetutils-telnetd socat iproute2 passwd
	# export bundles: checked with the real unzip, openssl and jq in the tests
	unzip openssl jq
	# the desktop's token key in a real OS keyring (Secret Service) in the app tests
	dbus gnome-keyring libsecret-tools
)

log() { printf 'setup: %s\n' "$*" >&2; }

sudo_if_needed() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_apt() {
	local missing=() p
	for p in "${APT_PACKAGES[@]}"; do
		if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
			missing+=("$p")
		fi
	done
	if [ ${#missing[@]} -eq 0 ]; then
		log "apt packages: all present"
		return
	fi
	log "apt packages missing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	sudo_if_needed apt-get update -q
	sudo_if_needed apt-get install -y -q "${missing[@]}" </dev/null
}

install_npm() {
	local dir=$ROOT/frontend
	if [ ! -f "$dir/package.json" ]; then
		log "frontend/package.json not found: skipping npm ci"
		return
	fi
	if [ ! -f "$dir/package-lock.json" ]; then
		log "frontend/package-lock.json missing: running npm install"
		(cd "$dir" && npm install --no-audit --no-fund)
		return
	fi
	# npm ci writes node_modules/.package-lock.json; it is stale when older than the lockfile.
	local stamp=$dir/node_modules/.package-lock.json
	if [ -f "$stamp" ] && [ ! "$dir/package-lock.json" -nt "$stamp" ] && [ ! "$dir/package.json" -nt "$stamp" ]; then
		log "frontend/node_modules: up to date"
		return
	fi
	log "frontend/node_modules: stale or missing, running npm ci"
	(cd "$dir" && npm ci --no-audit --no-fund)
}

install_go_tools() {
	# The S3-compatible server that the backend/storage tests run (a 2-minute build on 2 cores).
	local VERSITYGW_VERSION=v1.8.0
	mkdir -p "$ROOT/bin"
	if [ -x "$ROOT/bin/staticcheck" ] && "$ROOT/bin/staticcheck" -version 2>/dev/null | grep -q "(${STATICCHECK_VERSION#v})"; then
		log "staticcheck $STATICCHECK_VERSION: present"
	else
		log "installing staticcheck $STATICCHECK_VERSION into ./bin"
		GOBIN=$ROOT/bin go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
	fi
	if [ -x "$ROOT/bin/versitygw" ] && go version -m "$ROOT/bin/versitygw" 2>/dev/null |
		grep -qE "^[[:space:]]+mod[[:space:]]+github.com/versity/versitygw[[:space:]]+${VERSITYGW_VERSION}([[:space:]]|$)"; then
		log "versitygw $VERSITYGW_VERSION: present"
	else
		log "installing versitygw $VERSITYGW_VERSION into ./bin"
		GOBIN=$ROOT/bin go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
	fi
}

command -v go >/dev/null || { log "go is not installed (need Go 1.26)"; exit 1; }
command -v npm >/dev/null || { log "npm is not installed (need Node 20)"; exit 1; }

install_apt
install_npm
install_go_tools
log "done"
