#!/usr/bin/env bash
# services.sh starts the local PostgreSQL, MariaDB and Redis used by the tests (all on 127.0.0.1)
# unless they already answer, and makes sure the tests can log in without a password:
#   PostgreSQL  host=127.0.0.1 user=postgres (trust)
#   MariaDB     127.0.0.1:3306 user root, no password
#   Redis       127.0.0.1:6379
set -euo pipefail

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# wait_for NAME CMD... retries CMD for up to 60 s.
wait_for() {
	local name=$1
	shift
	for _ in $(seq 1 120); do
		if "$@" >/dev/null 2>&1; then
			log "$name is up"
			return 0
		fi
		sleep 0.5
	done
	die "$name did not come up (tried: $*)"
}

start_postgres() {
	command -v pg_ctlcluster >/dev/null || die "PostgreSQL is not installed: run scripts/setup.sh"
	local version hba
	# shellcheck disable=SC2012 # version directories: plain names
	version=$(ls /etc/postgresql | sort -V | tail -n1)
	[ -n "$version" ] || die "no PostgreSQL cluster in /etc/postgresql"
	hba=/etc/postgresql/$version/main/pg_hba.conf

	# A fresh Debian cluster asks for a password over TCP; the tests log in as postgres without one.
	local hba_changed=no
	if ! grep -Eq '^[[:space:]]*host[[:space:]]+all[[:space:]]+(postgres|all)[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
		log "PostgreSQL: allowing trust auth for postgres on 127.0.0.1 in $hba"
		sed -i '0,/^[[:space:]]*\(local\|host\)/s//host    all             postgres        127.0.0.1\/32            trust\n&/' "$hba"
		hba_changed=yes
	fi

	if pg_isready -q -h 127.0.0.1 -p 5432; then
		if [ "$hba_changed" = yes ]; then
			pg_ctlcluster --skip-systemctl-redirect "$version" main reload
		fi
	else
		log "starting PostgreSQL $version"
		# shellcheck disable=SC2046 # the documented command; Debian 12 has one version
		pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start
	fi
	wait_for PostgreSQL pg_isready -q -h 127.0.0.1 -p 5432
	psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null ||
		die "PostgreSQL: cannot log in as postgres on 127.0.0.1 without a password (check $hba)"
}

mariadb_ping() { mariadb-admin --protocol=socket -u root ping; }

start_mariadb() {
	[ -x /usr/sbin/mariadbd ] || die "MariaDB is not installed: run scripts/setup.sh"
	if ! mariadb_ping >/dev/null 2>&1 && ! mariadb-admin -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; then
		log "starting MariaDB"
		mkdir -p /run/mysqld
		chown mysql:mysql /run/mysqld
		# --user=mysql: Debian's stock 50-server.cnf leaves `user` commented out (systemd sets it),
		# and mariadbd refuses to run as root.
		start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
	fi
	# Ping over the socket: over TCP a fresh server refuses root@127.0.0.1 until the account below exists.
	wait_for MariaDB mariadb_ping

	# Debian's root@localhost uses unix_socket auth; TCP from 127.0.0.1 needs its own account.
	if ! mariadb -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1' >/dev/null 2>&1; then
		log "MariaDB: allowing root over 127.0.0.1:3306 without a password"
		mariadb --protocol=socket -u root <<-'SQL'
			CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('');
			GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
			FLUSH PRIVILEGES;
		SQL
		mariadb -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1' >/dev/null ||
			die "MariaDB: root still cannot log in over 127.0.0.1:3306"
	fi
}

start_redis() {
	command -v redis-server >/dev/null || die "Redis is not installed: run scripts/setup.sh"
	if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
		log "starting Redis"
		redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no >/dev/null
	fi
	# shellcheck disable=SC2016 # expanded by the inner shell
	wait_for Redis sh -c '[ "$(redis-cli -h 127.0.0.1 -p 6379 ping)" = PONG ]'
}

[ "$(id -u)" -eq 0 ] || die "must run as root (it starts system services)"

start_postgres
start_mariadb
start_redis
