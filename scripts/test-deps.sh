#!/bin/bash
# Set up everything mavis's test suite needs on a Debian 12 (bookworm) machine, idempotently.
# Run as root (CI runs it from a fresh clone through `make test`); a second run takes seconds.
#
#  1. installs the missing Debian packages (apt-get, noninteractive; Postfix preseeded "No configuration";
#     services are never started by apt because /usr/sbin/policy-rc.d exits 101 — we start them ourselves)
#  2. makes sure PostgreSQL (127.0.0.1:5432, trust, roles postgres/root, db test), MariaDB (127.0.0.1:3306,
#     root without password, db test) and Redis (127.0.0.1:6379) are running and provisioned
#  3. sets up and starts the dedicated Postfix test instance (scripts/postfix-it.sh) and proves it delivers
#  4. runs the scanner helpers scripts/clamd.sh, scripts/spamd.sh, scripts/rspamd.sh when they exist
#
# Environment: MAVIS_SKIP_APT=1 skips step 1 (machines that are set up by other means).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
T0=$(date +%s.%N)

log() { echo "test-deps: $*"; }
die() { echo "test-deps: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (installs packages, starts services, runs a Postfix instance)"

wait_port() { # host port seconds
  local i=0
  while [ $i -lt $(($3 * 10)) ]; do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.1; i=$((i + 1))
  done
  return 1
}
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# ---------------------------------------------------------------- 1. packages
PKGS=(
  postfix swaks
  clamav-daemon clamav clamav-testfiles
  spamassassin spamc rspamd
  7zip p7zip-full cabextract arj lhasa unrar-free cpio lzop nomarch rpm2cpio xz-utils bzip2 zstd lz4
  python3 python3-aiosmtpd
  postgresql postgresql-client mariadb-server mariadb-client redis-server
  # go test -race needs cgo
  gcc libc6-dev
  # used by this script and the tests
  procps iproute2 ca-certificates
)

install_packages() {
  local missing=() p
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  log "installing: ${missing[*]}"
  local tmp_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    tmp_policy=1
  fi
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
  [ $tmp_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  return 0
}
if [ "${MAVIS_SKIP_APT:-}" = 1 ]; then log "MAVIS_SKIP_APT=1: not checking packages"; else install_packages; fi

command -v go >/dev/null || die "no Go toolchain in PATH (go.mod wants $(awk '/^go /{print $2}' "$HERE/../go.mod"))"

# ---------------------------------------------------------------- 2. databases
start_postgres() {
  if ! port_open 127.0.0.1 5432; then
    local ver
    ver=$(ls /etc/postgresql | sort -V | tail -1)
    [ -n "$ver" ] || die "no PostgreSQL cluster in /etc/postgresql"
    log "starting PostgreSQL $ver"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start
    wait_port 127.0.0.1 5432 60 || die "PostgreSQL did not open 127.0.0.1:5432"
  fi
  # trust on loopback, as the test suite expects (a throwaway test database, never a production server)
  if ! psql -h 127.0.0.1 -U postgres -d postgres -w -Atc 'select 1' >/dev/null 2>&1; then
    local hba ver
    ver=$(ls /etc/postgresql | sort -V | tail -1)
    hba=/etc/postgresql/$ver/main/pg_hba.conf
    log "PostgreSQL: trusting 127.0.0.1/::1 in $hba"
    sed -i '1i host all all 127.0.0.1/32 trust # mavis test-deps\nhost all all ::1/128 trust # mavis test-deps' "$hba"
    runuser -u postgres -- psql -Atqc 'select pg_reload_conf()' >/dev/null
    sleep 0.5
  fi
  local q="psql -h 127.0.0.1 -U postgres -d postgres -w -Atq"
  [ "$($q -c "select 1 from pg_roles where rolname='root'")" = 1 ] || $q -c 'create role root superuser login'
  [ "$($q -c "select 1 from pg_database where datname='test'")" = 1 ] || $q -c 'create database test'
  psql -h 127.0.0.1 -U root -d test -w -Atqc 'select 1' >/dev/null || die "PostgreSQL: root@127.0.0.1/test not usable"
}

start_mariadb() {
  if ! port_open 127.0.0.1 3306; then
    log "starting MariaDB"
    install -d -m 755 -o mysql -g mysql /run/mysqld
    [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_port 127.0.0.1 3306 60 || die "MariaDB did not open 127.0.0.1:3306 (Debian's default bind-address is 127.0.0.1)"
  fi
  if ! mysql -h 127.0.0.1 -u root -e 'use test' >/dev/null 2>&1; then
    log "MariaDB: root@127.0.0.1 without password, database test"
    mysql -u root <<'SQL'
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS test;
SQL
    mysql -h 127.0.0.1 -u root -e 'use test' || die "MariaDB: root@127.0.0.1/test not usable"
  fi
}

start_redis() {
  if ! port_open 127.0.0.1 6379; then
    log "starting Redis"
    install -d -m 750 -o redis -g redis /var/lib/redis
    install -d -m 2750 -o redis -g adm /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_port 127.0.0.1 6379 30 || die "Redis did not open 127.0.0.1:6379"
  fi
}

start_postgres
start_mariadb
start_redis

# ---------------------------------------------------------------- 3. Postfix test instance
"$HERE/postfix-it.sh" up
"$HERE/postfix-it.sh" verify

# ---------------------------------------------------------------- 4. scanners (helpers written elsewhere)
for s in clamd spamd rspamd; do
  if [ -f "$HERE/$s.sh" ]; then
    log "running scripts/$s.sh"
    bash "$HERE/$s.sh"
  fi
done

log "ready in $(echo "$T0 $(date +%s.%N)" | awk '{printf "%.1f", $2-$1}') s"
