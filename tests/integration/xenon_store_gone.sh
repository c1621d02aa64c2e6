#!/bin/bash
# xenstored killed (-9) under a running xenon-hvd, with the real consoled,
# blkback and monitor and a guest whose console consoled serves. TAP.
#   xenon_store_gone.sh XENON
#
# Debian's libxenstore never wakes the xs_fileno() pipe when xenstored goes
# (lib/dom0/xenon_dom0.h, "Whether xenstored is still there"). Before the
# shared probe, consoled and blkback sat forever on it, saying nothing, and
# xenon-hvd restarted any back end that did exit, five times, each restart
# failing to reach a store that is never restarted. Now: consoled and
# blkback notice within about a second (the probe's period), say once that
# they serve on what is connected, and keep running: the guest's console,
# with a client attached before the kill and one attached after, still
# echoes. The monitor (all store work) exits and is not restarted
# (xenon-hvd says why); the guest runs on, and `xenon down' still destroys
# it, stops the back ends and leaves no process of the run.
# Bounded waits only; processes are found by pid (or by the tag every
# process of the run inherits); logs printed on failure.
set -u
XENON=$(realpath "$1")
D=$(mktemp -d "${TMPDIR:-/tmp}/xenon-store-gone.XXXXXX")
RUN=$D/run
TAG="XENON_STORE_GONE_TAG=$D"
export XENON_RUN_DIR=$RUN XENSTORED_PATH=$RUN/xenstore/socket
. "$(dirname "$0")/../test_lib.sh"
UNTIL_STEP=0.1

live_tagged() {
	local p
	for p in $(tagged); do gone "$p" || echo "$p"; done
}

finish() {
	[ -n "${S:-}" ] && kill "$S" 2>/dev/null
	timeout 30 "$XENON" down >/dev/null 2>&1
	kill_tagged
	tap_finish "$D" "$RUN"/hvd.log "$RUN"/console/consoled.log "$RUN"/blkback/blkback.log \
		"$RUN"/monitor.log
}
trap 'finish; exit $?' EXIT

hvd_log_has() { grep -qF "$1" "$RUN/hvd.log" 2>/dev/null; }
# NAME's pid as xenon-hvd logged its first start; how many starts it logged.
svc_pid() { grep -F "$1 started: " "$RUN/hvd.log" | head -1 | sed 's/.*, pid //'; }
starts() { grep -cF "$1 started: " "$RUN/hvd.log"; }
says_gone() {
	grep -qF "xenstored is gone: connected devices are still served, no new ones" "$1" \
		2>/dev/null
}
says_gone_once() { [ "$(grep -cF "xenstored is gone" "$1" 2>/dev/null)" = 1 ]; }
# A fresh client of dN.sock: sends $2, waits (10 s at most) for $3 to come back.
fresh_client() {
	python3 - "$1" "$2" "$3" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
got, end = b"", time.monotonic() + 10
while sys.argv[3].encode() not in got and time.monotonic() < end:
	b = s.recv(4096)
	if not b:
		break
	got += b
sys.exit(0 if sys.argv[3].encode() in got else 1)
PY
}
ms_now() { echo $(($(date +%s%N) / 1000000)); }
guest_pid() {
	"$XENON" list --json | python3 -c "import json,sys; print([x['pid'] for x in json.load(sys.stdin) if x['domid']==1][0])"
}

printf 'name = "g"\nkernel = "echo"\nmemory = 4\n' >"$D/echo.cfg"
# xenon up runs $XENON_HVD: xenon-hvd with -v, whose log then has every
# start of a service ("NAME started: PATH, pid N").
printf '#!/bin/sh\nexec "%s" "$@" -v\n' "$(dirname "$XENON")/../../dom0/hvd/xenon-hvd" >"$D/hvd-v"
chmod +x "$D/hvd-v"
check "xenon up" quiet timeout 30 env "$TAG" XENON_HVD="$D/hvd-v" "$XENON" up
HVD=$(cat "$RUN/hvd.pid" 2>/dev/null)
XSD=$(cat "$RUN/xenstore/xenstored.pid" 2>/dev/null)
CD=$(svc_pid consoled) BB=$(svc_pid blkback) MON=$(svc_pid monitor)
[ -n "$HVD" ] && [ -n "$XSD" ] && [ -n "$CD" ] && [ -n "$BB" ] && [ -n "$MON" ] ||
	{ echo "Bail out! a daemon's pid is missing"; exit 1; }
check "a guest with a console" quiet timeout 10 env "$TAG" "$XENON" create "$D/echo.cfg"
G=$(guest_pid)
check "  consoled serves it" until_ok 100 test -S "$RUN/console/d1.sock"
# A client attached while the store is there; its input comes from a fifo.
mkfifo "$D/in"
timeout 60 "$XENON" console 1 <"$D/in" >"$D/out" 2>"$D/err" &
S=$!
exec 7>"$D/in"
printf 'before the kill\n' >&7
check "  a console client's line comes back" until_ok 100 grep -qF "BEFORE THE KILL" "$D/out"

T0=$(ms_now)
kill -9 "$XSD"
check "kill -9 xenstored: consoled says it serves on" until_ok 100 \
	says_gone "$RUN/console/consoled.log"
check "  blkback says so too" until_ok 100 says_gone "$RUN/blkback/blkback.log"
echo "# both said so within $(($(ms_now) - T0)) ms of the kill (the probe's period is 1000)"
check "the monitor (pid $MON) exits" until_ok 100 gone "$MON"
check "  xenon-hvd does not restart it, saying why" until_ok 100 \
	hvd_log_has "monitor is not restarted: xenstored is gone"
check "  the reason, once" test "$(grep -cF "no back end is restarted from now on" "$RUN/hvd.log")" = 1
printf 'after the kill\n' >&7
check "the attached client's line still comes back" until_ok 100 \
	grep -qF "AFTER THE KILL" "$D/out"
check "  and reaches the console log" grep -qF "AFTER THE KILL" "$RUN/console/d1.log"
check "a client attached after the kill is served too" \
	fresh_client "$RUN/console/d1.sock" $'fresh client\n' "FRESH CLIENT"
check "consoled (pid $CD) and blkback (pid $BB) still run" eval '! gone "$CD" && ! gone "$BB"'
check "  each said it once" eval 'says_gone_once "$RUN/console/consoled.log" &&
	says_gone_once "$RUN/blkback/blkback.log"'
check "  xenon-hvd saw neither exit; each was started once" eval \
	'! hvd_log_has "consoled exited" && ! hvd_log_has "blkback exited" &&
	[ "$(starts consoled)$(starts blkback)$(starts monitor)" = 111 ]'
printf '\035' >&7
wait "$S"
check "  Ctrl-] detaches the client: exit 0" test $? = 0
S=
exec 7>&-
check "xenon-hvd and the guest run on" eval '! gone "$HVD" && [ -n "$G" ] && ! gone "$G"'

check "xenon down" quiet timeout 30 "$XENON" down
check "  xenon-hvd is gone" until_ok 100 gone "$HVD"
check "  and the guest" until_ok 100 gone "$G"
check "  and consoled and blkback" until_ok 100 eval 'gone "$CD" && gone "$BB"'
check "  no process of this run left" until_ok 50 eval '[ -z "$(live_tagged)" ]'
check "  socket and pid file removed" eval '[ ! -e "$RUN/hvd.sock" ] && [ ! -e "$RUN/hvd.pid" ]'
