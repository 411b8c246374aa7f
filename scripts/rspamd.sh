#!/bin/bash
# rspamd for mavis's integration tests (not the system one).
#
#   scripts/rspamd.sh [up]     write the config (if changed), start rspamd if it is not running,
#                              wait until the normal worker and the controller answer /ping
#                              (default; idempotent)
#   scripts/rspamd.sh stop     stop the rspamd this script started (by its pid file)
#   scripts/rspamd.sh status   exit 0 when both workers answer /ping
#
# Must run as root (rspamd drops to _rspamd). Debian's /etc/rspamd/rspamd.conf is used unchanged;
# a private LOCAL_CONFDIR (MAVIS_IT_DIR/rspamd/conf) overrides it so that rspamd works offline:
#   - DNS goes to 127.0.0.1:1 (nothing listens: every lookup fails at once, nothing hangs),
#   - modules that need the network or Redis (rbl, fuzzy_check, dcc, spf, dkim, dmarc, arc, asn,
#     phishing feeds, rspamd_update, neural, ratelimit, greylist, reputation, ...) are disabled,
#   - only loopback sockets; the proxy worker is disabled.
# rspamd detects GTUBE itself.
#
# Ports: normal worker 127.0.0.1:${MAVIS_RSPAMD_PORT:-11333}, controller 127.0.0.1:${MAVIS_RSPAMD_CONTROLLER_PORT:-11334}
# (controller password: "mavis-it"). If both ports already answer /ping, that rspamd is used as is.
#
# Layout (MAVIS_IT_DIR, default /var/tmp/mavis-it): rspamd/{conf,db,run,log}
set -euo pipefail

IT=${MAVIS_IT_DIR:-/var/tmp/mavis-it}
DIR=$IT/rspamd
PORT=${MAVIS_RSPAMD_PORT:-11333}
CPORT=${MAVIS_RSPAMD_CONTROLLER_PORT:-11334}
PIDF=$DIR/run/rspamd.pid
LOG=$DIR/log/rspamd.log
RUSER=_rspamd

log() { echo "rspamd.sh: $*"; }
die() { echo "rspamd.sh: $*" >&2; exit 1; }

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
our_pid() { [ -s "$PIDF" ] && tr -dc '0-9' < "$PIDF" || true; }

# ping PORT: GET /ping over bash /dev/tcp; true on "pong"
ping_port() {
  local r
  r=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf 'GET /ping HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
        timeout 5 cat <&3) 2>/dev/null || true)
  case $r in *pong*) return 0 ;; esac
  return 1
}
ping_rspamd() { ping_port "$PORT" && ping_port "$CPORT"; }

# write_if_changed FILE: stdin → FILE only when the content differs.
write_if_changed() {
  local f=$1 tmp
  tmp=$(mktemp "$f.XXXXXX")
  cat > "$tmp"
  if [ -f "$f" ] && cmp -s "$tmp" "$f"; then rm -f "$tmp"; return 0; fi
  chmod 644 "$tmp"; mv "$tmp" "$f"
}

# Modules that need the network (DNS, HTTP feeds, external scanners) or Redis.
NET_MODULES="rbl surbl emails fuzzy_check dcc asn spf dkim dmarc arc bimi phishing url_redirector
 rspamd_update neural ratelimit greylist replies reputation mx_check history_redis clickhouse
 elastic metric_exporter metadata_exporter p0f external_services antivirus aws_s3 hfilter
 dkim_signing arc_signing spamtrap"

setup() {
  command -v rspamd >/dev/null || die "rspamd not installed (Debian package rspamd)"
  id "$RUSER" >/dev/null 2>&1 || die "user $RUSER missing (Debian package rspamd creates it)"
  install -d -m 755 "$IT" "$DIR" "$DIR/conf" "$DIR/conf/local.d" "$DIR/conf/override.d"
  install -d -m 755 -o "$RUSER" -g "$RUSER" "$DIR/db" "$DIR/run" "$DIR/log"
  write_if_changed "$DIR/conf/override.d/options.inc" <<'EOF'
# mavis integration tests: offline. Every DNS query goes to a closed local port and fails at once.
dns {
  nameserver = ["127.0.0.1:1"];
  timeout = 0.2s;
  retransmits = 1;
  sockets = 1;
}
local_addrs = [];
EOF
  write_if_changed "$DIR/conf/override.d/worker-normal.inc" <<EOF
bind_socket = "127.0.0.1:$PORT";
count = 1;
EOF
  # controller password "mavis-it" (rspamadm pw -p mavis-it hashes would also work; plain text is accepted)
  write_if_changed "$DIR/conf/override.d/worker-controller.inc" <<EOF
bind_socket = "127.0.0.1:$CPORT";
count = 1;
password = "mavis-it";
enable_password = "mavis-it";
secure_ip = "127.0.0.1";
static_dir = "\${WWWDIR}";
EOF
  write_if_changed "$DIR/conf/override.d/worker-proxy.inc" <<'EOF'
bind_socket = "127.0.0.1:11332";
enabled = false;
count = 0;
EOF
  write_if_changed "$DIR/conf/override.d/logging.inc" <<'EOF'
level = "notice";
EOF
  local m
  for m in $NET_MODULES; do
    printf '# written by scripts/rspamd.sh: offline tests\nenabled = false;\n' \
      | write_if_changed "$DIR/conf/override.d/$m.conf"
  done
  # no Bayes classifier (needs Redis)
  write_if_changed "$DIR/conf/override.d/classifier-bayes.conf" <<'EOF'
enabled = false;
EOF
}

start() {
  local p; p=$(our_pid)
  if pid_alive "$p"; then
    log "already running pid=$p"
  elif ping_rspamd; then
    log "an rspamd not started by this script already answers on 127.0.0.1:$PORT/$CPORT; using it"
    return 0
  else
    rm -f "$PIDF"
    log "starting rspamd on 127.0.0.1:$PORT (controller $CPORT)"
    rspamd -c /etc/rspamd/rspamd.conf -u "$RUSER" -g "$RUSER" -p "$PIDF" \
      --var="LOCAL_CONFDIR=$DIR/conf" --var="DBDIR=$DIR/db" \
      --var="RUNDIR=$DIR/run" --var="LOGDIR=$DIR/log"
  fi
  local i=0
  while [ $i -lt 600 ]; do
    ping_rspamd && { log "ready on 127.0.0.1:$PORT pid=$(our_pid)"; return 0; }
    p=$(our_pid)
    if [ $i -gt 50 ] && [ -n "$p" ] && ! pid_alive "$p"; then break; fi
    sleep 0.2; i=$((i + 1))
  done
  tail -20 "$LOG" >&2 || true
  die "rspamd did not answer /ping on 127.0.0.1:$PORT and :$CPORT"
}

stop() {
  local p; p=$(our_pid)
  if pid_alive "$p"; then
    kill "$p"
    local i=0
    while pid_alive "$p" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    pid_alive "$p" && die "rspamd pid=$p did not stop"
    log "stopped pid=$p"
  else
    log "not running"
  fi
  rm -f "$PIDF"
}

[ "$(id -u)" = 0 ] || die "must run as root"
case ${1:-up} in
  up)     setup; start ;;
  setup)  setup ;;
  stop)   stop ;;
  status) ping_rspamd && log "answers on 127.0.0.1:$PORT and :$CPORT" ;;
  *)      die "usage: $0 [up|setup|stop|status]" ;;
esac
