#!/bin/bash
# SpamAssassin's spamd for mavis's integration tests (not the system one).
#
#   scripts/spamd.sh [up]     write the config (if changed), start spamd if it is not running,
#                             wait until it answers PING (default; idempotent)
#   scripts/spamd.sh stop     stop the spamd this script started (by its pid file)
#   scripts/spamd.sh status   exit 0 when spamd answers PING
#
# Must run as root (spamd drops to debian-spamd). Offline and deterministic: the site config
# (MAVIS_IT_DIR/spamd/sa-site = Debian's plugin loaders *.pre + 65_debian.cf + our local.cf,
# as the amavisd-new reference rig does) switches off DNS, RBL, URIBL, Razor, Pyzor, DCC, Bayes,
# AWL/TxRep; spamd runs with -L (local tests only).
#
# Listens on 127.0.0.1:${MAVIS_SPAMD_PORT:-783} (783 is spamd's and amavis's SpamdClient default).
# If that port already answers PING (another spamd, e.g. the reference rig's), it is used as is.
#
# The site config also adds "X-Spam-Tests: _TESTSSCORES(,)_" (exact per-test scores for HEADERS).
#
# Per-user configs: -x with --virtual-config-dir=MAVIS_IT_DIR/spamd/users/%u, so a request with
# "User: mavis-test" reads users/mavis-test/user_prefs (required_score 42, GTUBE scored 500):
# the integration tests use it to prove the client's User header reaches spamd.
#
# Layout (MAVIS_IT_DIR, default /var/tmp/mavis-it): spamd/{sa-site,users,home} spamd/spamd.pid spamd/spamd.log
set -euo pipefail

IT=${MAVIS_IT_DIR:-/var/tmp/mavis-it}
DIR=$IT/spamd
PORT=${MAVIS_SPAMD_PORT:-783}
CHILDREN=${MAVIS_SPAMD_CHILDREN:-3}
PIDF=$DIR/spamd.pid
LOG=$DIR/spamd.log
SAUSER=debian-spamd

log() { echo "spamd.sh: $*"; }
die() { echo "spamd.sh: $*" >&2; exit 1; }

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
our_pid() { [ -s "$PIDF" ] && tr -dc '0-9' < "$PIDF" || true; }

# ping: one SPAMC PING over bash /dev/tcp, true when spamd answers "SPAMD/1.x 0 PONG"
ping_spamd() {
  local r
  r=$( (exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
        printf 'PING SPAMC/1.5\r\n\r\n' >&3
        timeout 5 head -n 1 <&3) 2>/dev/null || true)
  case $r in SPAMD/1.*" 0 PONG"*) return 0 ;; esac
  return 1
}

# write_if_changed FILE: stdin → FILE only when the content differs.
write_if_changed() {
  local f=$1 tmp
  tmp=$(mktemp "$f.XXXXXX")
  cat > "$tmp"
  if [ -f "$f" ] && cmp -s "$tmp" "$f"; then rm -f "$tmp"; return 0; fi
  chmod 644 "$tmp"; mv "$tmp" "$f"; CHANGED=1
}
CHANGED=0

setup() {
  command -v spamd >/dev/null || die "spamd not installed (Debian package spamassassin)"
  id "$SAUSER" >/dev/null 2>&1 || die "user $SAUSER missing (Debian package spamassassin creates it)"
  install -d -m 755 "$IT"
  install -d -m 755 -o "$SAUSER" -g "$SAUSER" "$DIR" "$DIR/home"
  install -d -m 755 "$DIR/sa-site" "$DIR/users" "$DIR/users/mavis-test"
  # Debian's plugin loaders and 65_debian.cf, so the same plugins load as in a stock install.
  local f
  for f in /etc/spamassassin/*.pre /etc/spamassassin/65_debian.cf; do
    [ -f "$f" ] || continue
    cmp -s "$f" "$DIR/sa-site/$(basename "$f")" || cp "$f" "$DIR/sa-site/"
  done
  write_if_changed "$DIR/sa-site/local.cf" <<'EOF'
# SpamAssassin site config for mavis's integration tests (written by scripts/spamd.sh).
# Offline, deterministic: no network tests, no Bayes, no AWL/TxRep learning.
dns_available no
skip_rbl_checks 1
use_razor2 0
use_pyzor 0
ifplugin Mail::SpamAssassin::Plugin::DCC
use_dcc 0
endif
ifplugin Mail::SpamAssassin::Plugin::URIDNSBL
skip_uribl_checks 1
endif
use_bayes 0
bayes_auto_learn 0
ifplugin Mail::SpamAssassin::Plugin::AWL
use_auto_whitelist 0
endif
ifplugin Mail::SpamAssassin::Plugin::TxRep
use_txrep 0
endif
report_safe 0
required_score 5.0
# the tests with their exact scores, for the spamd client's HEADERS command
add_header all Tests _TESTSSCORES(,)_
lock_method flock
EOF
  write_if_changed "$DIR/users/mavis-test/user_prefs" <<'EOF'
# Per-user prefs for "User: mavis-test" (spamd --virtual-config-dir), used by mavis's tests.
required_score 42
score GTUBE 500
EOF
  chown -R "$SAUSER:$SAUSER" "$DIR/users"
  touch "$LOG"; chown "$SAUSER:$SAUSER" "$LOG"
}

start() {
  local p; p=$(our_pid)
  if pid_alive "$p"; then
    if [ "$CHANGED" = 1 ]; then
      log "config changed: reloading pid=$p (SIGHUP)"
      kill -HUP "$p"; sleep 1
    else
      log "already running pid=$p"
    fi
  elif ping_spamd; then
    log "a spamd not started by this script already answers on 127.0.0.1:$PORT; using it"
    return 0
  else
    rm -f "$PIDF"
    log "starting spamd on 127.0.0.1:$PORT (children=$CHILDREN)"
    spamd -d -L -x -4 -i "127.0.0.1:$PORT" -A 127.0.0.1 \
      -u "$SAUSER" -g "$SAUSER" -m "$CHILDREN" --min-children="$CHILDREN" \
      --siteconfigpath="$DIR/sa-site" \
      --virtual-config-dir="$DIR/users/%u" \
      --helper-home-dir="$DIR/home" \
      -r "$PIDF" -s "$LOG"
  fi
  # spamd compiles its rules before it listens: allow up to 3 minutes on a busy machine
  local i=0
  while [ $i -lt 900 ]; do
    ping_spamd && { log "ready on 127.0.0.1:$PORT pid=$(our_pid)"; return 0; }
    p=$(our_pid)
    if [ $i -gt 50 ] && [ -n "$p" ] && ! pid_alive "$p"; then break; fi
    sleep 0.2; i=$((i + 1))
  done
  tail -20 "$LOG" >&2 || true
  die "spamd did not answer PING on 127.0.0.1:$PORT"
}

stop() {
  local p; p=$(our_pid)
  if pid_alive "$p"; then
    kill "$p"
    local i=0
    while pid_alive "$p" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    pid_alive "$p" && die "spamd pid=$p did not stop"
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
  status) ping_spamd && log "answers on 127.0.0.1:$PORT" ;;
  *)      die "usage: $0 [up|setup|stop|status]" ;;
esac
