#!/bin/bash
# Side-by-side benchmark: mavisd vs the real amavisd-new 2.13 (Debian package) on this machine, in one
# run, on the same corpus, the same clamd and the same spamd, with Postfix's smtp-source / smtp-sink.
#
#   bench/amavis/run.sh              install amavisd-new if missing (apt), set up, run every phase,
#                                    write bench/amavis/results/<date>.md (idempotent, re-runnable)
#   REPS=3 bench/amavis/run.sh       repetitions per point (default 1; the table shows the median)
#   PHASES="av spamd" ...            phases to run (default: av spamd full)
#   bench/amavis/run.sh stop         stop what a previous (interrupted) run left running
#
# Paths measured (msgs/s, mean latency, peak RSS of each daemon's process tree):
#   direct        smtp-source -> smtp-sink                                   (phase av)
#   amavis-av     smtp-source -> amavisd-new (clamd) -> smtp-sink            (phase av)
#   mavis-av      smtp-source -> mavisd (clamd) -> smtp-sink                 (phase av)
#   amavis-spamd  amavisd-new (clamd + SpamAssassin via spamd, SpamdClient)  (phase spamd)
#   mavis-spamd   mavisd (clamd + spamd)                                     (phase spamd)
#   spamc         spamc -c straight to spamd, message cut to 200 KB: the ceiling (phase spamd)
#   amavis-full   amavisd-new (clamd + SpamAssassin in-process, Debian's stock set-up) (phase full)
# at concurrency 1, 4, 16 with a 2 KB plain message and a 1 MB attachment (the reference rig's corpus).
#
# Uses the shared test daemons and never stops them: clamd (scripts/clamd.sh, Unix socket
# /var/tmp/mavis-it/clamav/clamd.ctl) and spamd (scripts/spamd.sh, 127.0.0.1:783); starts them with
# those scripts only if they are not running. Ports: amavisd 31024, mavisd 32024, smtp-sinks 31025
# (amavis's next hop), 32025 (mavis's), 33025 (direct). Runtime state: /var/tmp/mavis-cmp.
# Every run has a fixed message count and a hard timeout; daemons are stopped by their recorded PIDs.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CONF=$HERE/conf
R=${MAVIS_CMP_DIR:-/var/tmp/mavis-cmp}
BIN=$R/bin
REPS=${REPS:-1}
PHASES=${PHASES:-av spamd full}
N2K_AV=${N2K_AV:-300}; N1M_AV=${N1M_AV:-50}     # messages per point, clamd-only phase
N2K_SP=${N2K_SP:-60};  N1M_SP=${N1M_SP:-30}     # messages per point, spam phases (SA is ~10x slower)
TIMEOUT=${TIMEOUT:-300s}
CLAMD_PID=/var/tmp/mavis-it/clamav/clamd.pid
SPAMD_PID=/var/tmp/mavis-it/spamd/spamd.pid
AMAVIS_PIDF=$R/amavis/var/amavisd.pid

log() { echo "run.sh: $*" >&2; }
pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
pidof_file() { [ -s "$1" ] && tr -dc '0-9' < "$1" || true; }
wait_port() { local i; for i in $(seq 1 ${2:-200}); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
port_free() { ! (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null; }

stop_pid() { # name pidfile
  local p; p=$(pidof_file "$2")
  if pid_alive "$p"; then
    kill -TERM "$p"
    for _ in $(seq 1 300); do pid_alive "$p" || break; sleep 0.1; done
    pid_alive "$p" && { log "$1 pid $p still alive, KILL"; kill -KILL "$p"; }
    log "stopped $1 pid $p"
  fi
  rm -f "$2"
}
stop_all() {
  stop_pid amavisd "$AMAVIS_PIDF"
  stop_pid mavisd "$R/pids/mavisd.pid"
  for p in 31025 32025 33025; do stop_pid "sink $p" "$R/pids/sink$p.pid"; done
}

if [ "${1:-}" = stop ]; then stop_all; exit 0; fi

# ---- install + set up (idempotent) ----
"$HERE/install.sh" >&2
install -d -m 755 "$R" "$R/pids" "$BIN"
install -d -m 1777 "$R/log"
install -d -m 750 -o amavis -g amavis "$R/amavis" "$R/amavis/tmp" "$R/amavis/db" "$R/amavis/var" "$R/amavis/virusmails"
install -d -m 755 "$R/mavis"
[ -s "$R/corpus/03-pdf-1m.eml" ] || /usr/bin/python3 /work/shared/reference/mkcorpus.py "$R/corpus" >&2
(cd "$REPO" && go build -o "$BIN/mavisd" ./cmd/mavisd && go build -o "$BIN/mavis" ./cmd/mavis \
   && go build -o "$BIN/cmpbench" ./bench/amavis/cmpbench)
for m in av spamd; do "$BIN/mavis" config check -c "$CONF/mavis-$m.toml" >&2; done

# shared backends: use them, start only if missing (their scripts are idempotent)
[ -S /var/tmp/mavis-it/clamav/clamd.ctl ] && pid_alive "$(pidof_file $CLAMD_PID)" || "$REPO/scripts/clamd.sh" up >&2
wait_port 783 10 || "$REPO/scripts/spamd.sh" up >&2

trap stop_all EXIT
stop_all 2>/dev/null || true
for p in 31024 32024 31025 32025 33025; do port_free $p || { log "port $p busy"; exit 1; }; done
for p in 31025 32025 33025; do
  setsid smtp-sink -u nobody -m 1024 -h sink$p.rig.test 127.0.0.1:$p 1024 > "$R/log/sink$p.log" 2>&1 < /dev/null &
  echo $! > "$R/pids/sink$p.pid"
  wait_port $p || { log "sink $p did not come up"; exit 1; }
done

start_amavis() { # mode
  : > "$R/log/amavisd.log"; chown amavis "$R/log/amavisd.log"
  local t0=$(date +%s.%N)
  amavisd -c "$CONF/amavisd-common.conf" -c "$CONF/amavisd-$1.conf" start > "$R/log/amavisd.stdout" 2>&1 \
    || { cat "$R/log/amavisd.stdout" >&2; exit 1; }
  local i b=
  for i in $(seq 1 600); do
    if [ -s "$AMAVIS_PIDF" ]; then
      b=$( (exec 3<>/dev/tcp/127.0.0.1/31024; timeout 5 head -n1 <&3; printf 'QUIT\r\n' >&3) 2>/dev/null || true)
      case $b in 220*) break;; esac
    fi
    sleep 0.05
  done
  case $b in 220*) ;; *) log "amavisd $1 did not come up"; tail -20 "$R/log/amavisd.log" >&2; exit 1;; esac
  log "amavisd $1 up pid=$(pidof_file "$AMAVIS_PIDF") startup=$(echo "$t0 $(date +%s.%N)" | awk '{printf "%.2f", $2-$1}')s"
}
start_mavis() { # mode
  local t0=$(date +%s.%N)
  setsid "$BIN/mavisd" -c "$CONF/mavis-$1.toml" > "$R/log/mavisd-$1.log" 2>&1 < /dev/null &
  echo $! > "$R/pids/mavisd.pid"
  wait_port 32024 300 || { log "mavisd $1 did not come up"; tail "$R/log/mavisd-$1.log" >&2; exit 1; }
  log "mavisd $1 up pid=$(cat "$R/pids/mavisd.pid") startup=$(echo "$t0 $(date +%s.%N)" | awk '{printf "%.2f", $2-$1}')s"
}

DATE=$(date -u +%Y-%m-%d-%H%M)
OUT=$R/results-$DATE.jsonl
MEM=(-mem amavisd="$AMAVIS_PIDF" -mem mavisd="$R/pids/mavisd.pid" -mem clamd="$CLAMD_PID" -mem spamd="$SPAMD_PID")
bench() { # phase n2k n1m targets...
  local ph=$1 n2=$2 n1=$3; shift 3
  local rep
  for rep in $(seq 1 "$REPS"); do
    "$BIN/cmpbench" run -phase "$ph" -out "$OUT" -conc 1,4,16 -timeout "$TIMEOUT" \
      -size 2k="$R/corpus/01-plain-2k.eml:$n2" -size 1m="$R/corpus/03-pdf-1m.eml:$n1" "${MEM[@]}" "$@"
  done
}

for ph in $PHASES; do
  case $ph in
  av)
    start_amavis av; start_mavis av
    bench av "$N2K_AV" "$N1M_AV" -target direct=smtp:127.0.0.1:33025 \
      -target amavis-av=smtp:127.0.0.1:31024 -target mavis-av=smtp:127.0.0.1:32024
    stop_pid amavisd "$AMAVIS_PIDF"; stop_pid mavisd "$R/pids/mavisd.pid" ;;
  spamd)
    start_amavis spamd; start_mavis spamd
    bench spamd "$N2K_SP" "$N1M_SP" -target amavis-spamd=smtp:127.0.0.1:31024 \
      -target mavis-spamd=smtp:127.0.0.1:32024 -target spamc=spamc:127.0.0.1:783
    stop_pid amavisd "$AMAVIS_PIDF"; stop_pid mavisd "$R/pids/mavisd.pid" ;;
  full)
    start_amavis full
    bench full "$N2K_SP" "$N1M_SP" -target amavis-full=smtp:127.0.0.1:31024
    stop_pid amavisd "$AMAVIS_PIDF" ;;
  *) log "unknown phase $ph"; exit 2 ;;
  esac
done

mkdir -p "$HERE/results"
MD=$HERE/results/$DATE.md
{
  echo "# mavisd vs amavisd-new 2.13 — $(date -u '+%F %T') UTC"
  echo
  echo "bench/amavis/run.sh (REPS=$REPS, PHASES=\"$PHASES\"); mavis $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "(+ uncommitted tree); $(dpkg-query -W -f='amavisd-new ${Version}' amavisd-new);"
  echo "$(nproc) cores, shared with other work (load1 at the end: $(cut -d' ' -f1 /proc/loadavg))."
  echo "Load: Postfix smtp-source, one session per message, 1 recipient <user@rig.test>; next hop smtp-sink."
  echo "Messages: 2k = corpus/01-plain-2k.eml (2296 B), 1m = corpus/03-pdf-1m.eml (1.42 MB, base64 PDF)."
  echo "Latency = mean per message = C × wall time / N (smtp-source gives only the total)."
  echo "Both filters: max_servers 2, seed 000's spam levels, clamd via its Unix socket (zINSTREAM)."
  "$BIN/cmpbench" report "$OUT"
} > "$MD"
cp "$OUT" "$HERE/results/$DATE.jsonl"
log "wrote $MD"
cat "$MD"
