#!/bin/bash
# ClamAV's clamd for mavis's integration tests (not the system one), with an offline signature db.
#
#   scripts/clamd.sh [up]     write the signature db and clamd.conf (if changed), start clamd if it is
#                             not running (reload it if only the db changed), wait until it answers PING
#                             on both sockets (default; idempotent)
#   scripts/clamd.sh stop     stop the clamd this script started (by its pid file)
#   scripts/clamd.sh status   exit 0 when clamd answers PING on the Unix socket
#   scripts/clamd.sh env      print the shell assignments below (MAVIS_CLAMD_SOCKET=... MAVIS_CLAMD_TCP=...)
#
# Must run as root on Debian 12 with clamav-daemon installed (clamd drops to user clamav).
# freshclam cannot run here (no network), so the db is written by this script, the way the amavisd-new
# reference rig's mksigs.sh does it: MD5 hash signatures (.hdb) and body signatures (.ndb) for
#   - the EICAR test string (body signature name "Eicar-Signature", as in ClamAV's official db),
#   - clamav-testfiles' clam.exe (whole file, and its 64-byte code stub at offset 64, which every file in
#     /usr/share/clamav-testfiles contains, packed, archived or encoded; clamd finds them all but RAR),
#   - a "Sanesecurity.Junk" style body signature on the marker MAVIS-TEST-SANESECURITY-JUNK-SIGNATURE, for
#     @virus_name_to_spam_score_maps tests (third-party spam signatures reported as viruses).
# clamd appends ".UNOFFICIAL" to the names of signatures from unsigned databases.
#
# Listens on ${MAVIS_IT_DIR:-/var/tmp/mavis-it}/clamav/clamd.ctl (mode 666) and 127.0.0.1:${MAVIS_CLAMD_PORT:-3310}
# (3310 is clamd's default; the reference rig's clamd uses it too: stop one before starting the other, or set
# MAVIS_CLAMD_PORT). StreamMaxLength 25M (Debian's default; the Go tests assume it).
#
# Layout: clamav/db/mavis-test.{hdb,ndb} clamav/clamd.conf clamav/clamd.pid clamav/clamd.ctl clamav/clamd.log
#         clamav/scan/ (a directory clamd can read, for CONTSCAN/MULTISCAN tests; mode 1777)
set -euo pipefail

IT=${MAVIS_IT_DIR:-/var/tmp/mavis-it}
DIR=$IT/clamav
DB=$DIR/db
CONF=$DIR/clamd.conf
SOCK=$DIR/clamd.ctl
PIDF=$DIR/clamd.pid
LOG=$DIR/clamd.log
PORT=${MAVIS_CLAMD_PORT:-3310}
CLAMEXE=/usr/share/clamav-testfiles/clam.exe

log() { echo "clamd.sh: $*"; }
die() { echo "clamd.sh: $*" >&2; exit 1; }

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
our_pid() { [ -s "$PIDF" ] && tr -dc '0-9' < "$PIDF" || true; }

# ping_unix / ping_tcp: one zPING, true when clamd answers PONG.
ping_unix() {
  [ -S "$SOCK" ] || return 1
  local r
  r=$(printf 'zPING\0' | timeout 5 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(4)
s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read()); print(s.recv(64).rstrip(b"\0").decode())
' "$SOCK" 2>/dev/null || true)
  [ "$r" = PONG ]
}
ping_tcp() {
  local r
  r=$( (exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
        printf 'zPING\0' >&3
        timeout 4 head -c 5 <&3 | tr -d '\0') 2>/dev/null || true)
  [ "$r" = PONG ]
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# write_if_changed FILE: stdin → FILE only when the content differs; returns 1 when it changed.
write_if_changed() {
  local f=$1 tmp
  tmp=$(mktemp "$f.XXXXXX")
  cat > "$tmp"
  if [ -f "$f" ] && cmp -s "$tmp" "$f"; then rm -f "$tmp"; return 0; fi
  chmod 644 "$tmp"; mv "$tmp" "$f"
  return 1
}

DB_CHANGED=0
CONF_CHANGED=0

setup() {
  command -v clamd >/dev/null || die "clamd not installed (Debian package clamav-daemon)"
  id clamav >/dev/null 2>&1 || die "user clamav missing (Debian package clamav-base creates it)"
  [ -f "$CLAMEXE" ] || die "$CLAMEXE missing (Debian package clamav-testfiles)"
  install -d -m 755 "$IT"
  install -d -m 755 -o clamav -g clamav "$DIR" "$DB"
  install -d -m 1777 "$DIR/scan"

  local eicar emd5 elen ehex cmd5 clen chex junk jhex
  eicar='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
  emd5=$(printf '%s' "$eicar" | md5sum | cut -d' ' -f1)
  elen=$(printf '%s' "$eicar" | wc -c)
  ehex=$(printf '%s' "$eicar" | od -An -v -tx1 | tr -d ' \n')
  cmd5=$(md5sum < "$CLAMEXE" | cut -d' ' -f1)
  clen=$(stat -c %s "$CLAMEXE")
  chex=$(dd if="$CLAMEXE" bs=1 skip=64 count=64 status=none | od -An -v -tx1 | tr -d ' \n')
  junk='MAVIS-TEST-SANESECURITY-JUNK-SIGNATURE'
  jhex=$(printf '%s' "$junk" | od -An -v -tx1 | tr -d ' \n')
  write_if_changed "$DB/mavis-test.hdb" <<EOF || DB_CHANGED=1
$emd5:$elen:Mavis.Test.EICAR_HDB-1
$cmd5:$clen:Mavis.Test.ClamAV-TestFile_HDB-1
EOF
  write_if_changed "$DB/mavis-test.ndb" <<EOF || DB_CHANGED=1
Eicar-Signature:0:*:$ehex
Mavis.Test.ClamAV-TestFile_NDB-1:0:*:$chex
Sanesecurity.Junk.MavisTest:0:*:$jhex
EOF

  # Debian's debconf defaults for clamd.conf (as the reference rig), with our paths.
  write_if_changed "$CONF" <<EOF || CONF_CHANGED=1
# clamd for mavis's integration tests, written by scripts/clamd.sh: do not edit.
LocalSocket $SOCK
FixStaleSocket true
LocalSocketGroup clamav
LocalSocketMode 666
TCPSocket $PORT
TCPAddr 127.0.0.1
User clamav
PidFile $PIDF
Foreground false
LogFile $LOG
LogTime true
LogClean false
LogVerbose false
LogSyslog false
ExtendedDetectionInfo true
DatabaseDirectory $DB
OfficialDatabaseOnly false
SelfCheck 0
Bytecode false
ScanMail true
ScanArchive true
ArchiveBlockEncrypted false
ScanPE true
ScanELF true
ScanOLE2 true
ScanPDF true
ScanHTML true
ScanSWF true
ScanXMLDOCS true
ScanHWP3 true
MaxDirectoryRecursion 15
FollowDirectorySymlinks false
FollowFileSymlinks false
ReadTimeout 180
CommandReadTimeout 30
SendBufTimeout 200
IdleTimeout 30
MaxThreads 12
MaxConnectionQueueLength 15
MaxQueue 100
MaxScanTime 120000
MaxScanSize 100M
MaxFileSize 25M
MaxRecursion 16
MaxFiles 10000
StreamMaxLength 25M
MaxEmbeddedPE 10M
MaxHTMLNormalize 10M
MaxHTMLNoTags 2M
MaxScriptNormalize 5M
MaxZipTypeRcg 1M
HeuristicAlerts true
HeuristicScanPrecedence false
PhishingSignatures true
PhishingScanURLs true
DetectPUA false
AllowAllMatchScan true
ForceToDisk false
DisableCache false
ExitOnOOM false
EOF
  touch "$LOG"; chown clamav:clamav "$LOG" "$DB"/mavis-test.*
}

# stray_pids: clamd processes running with exactly our config whose pid file is gone (e.g. MAVIS_IT_DIR
# was wiped under a running clamd: its socket is gone too). Exact command-line match only.
stray_pids() { pgrep -x -f "clamd -c $CONF" || true; }

start() {
  local p s; p=$(our_pid)
  if ! pid_alive "$p"; then
    for s in $(stray_pids); do
      log "clamd pid=$s runs with $CONF but has no pid file (runtime dir wiped?): stopping it"
      kill "$s" 2>/dev/null || true
      local i=0
      while pid_alive "$s" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    done
  elif ! ping_unix; then
    log "clamd pid=$p does not answer on $SOCK (socket removed?): restarting"
    stop
  fi
  p=$(our_pid)
  if pid_alive "$p"; then
    if [ $CONF_CHANGED = 1 ]; then
      log "clamd.conf changed: restarting pid=$p"
      stop
    elif [ $DB_CHANGED = 1 ]; then
      log "signature db changed: RELOAD pid=$p"
      printf 'zRELOAD\0' | timeout 5 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(4)
s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read()); s.recv(64)
' "$SOCK" || true
      sleep 1
    else
      log "already running pid=$p"
    fi
  fi
  p=$(our_pid)
  if ! pid_alive "$p"; then
    rm -f "$PIDF"
    if port_open "$PORT"; then
      die "127.0.0.1:$PORT is taken by another process (the reference rig's clamd?): stop it or set MAVIS_CLAMD_PORT"
    fi
    log "starting clamd (socket $SOCK, tcp 127.0.0.1:$PORT)"
    clamd -c "$CONF" || { tail -20 "$LOG" >&2; die "clamd failed to start"; }
  fi
  # clamd loads the db before it listens; with this tiny db that takes a second or two.
  local i=0
  while [ $i -lt 600 ]; do
    if ping_unix && ping_tcp; then
      log "ready pid=$(our_pid)"
      env_out
      return 0
    fi
    p=$(our_pid)
    if [ $i -gt 50 ] && [ -n "$p" ] && ! pid_alive "$p"; then break; fi
    sleep 0.1; i=$((i + 1))
  done
  tail -20 "$LOG" >&2 || true
  die "clamd did not answer PING on $SOCK and 127.0.0.1:$PORT"
}

stop() {
  local p; p=$(our_pid)
  pid_alive "$p" || p=$(stray_pids | head -1)
  if pid_alive "$p"; then
    kill "$p"
    local i=0
    while pid_alive "$p" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    pid_alive "$p" && die "clamd pid=$p did not stop"
    log "stopped pid=$p"
  else
    log "not running"
  fi
  rm -f "$PIDF"
}

env_out() {
  echo "MAVIS_CLAMD_SOCKET=$SOCK"
  echo "MAVIS_CLAMD_TCP=127.0.0.1:$PORT"
  echo "MAVIS_CLAMD_CONF=$CONF"
  echo "MAVIS_CLAMD_DB=$DB"
  echo "MAVIS_CLAMD_SCANDIR=$DIR/scan"
}

case ${1:-up} in
  env)    env_out; exit 0 ;;
esac
[ "$(id -u)" = 0 ] || die "must run as root"
case ${1:-up} in
  up)     setup; start ;;
  setup)  setup ;;
  stop)   stop ;;
  status) ping_unix && log "answers on $SOCK" ;;
  *)      die "usage: $0 [up|setup|stop|status|env]" ;;
esac
