#!/bin/bash
# xenstored killed (-9) under a running xenon-hvd, with the real consoled,
# blkback and monitor, a guest whose console consoled serves and guests
# with a disk blkback serves. TAP.
#   xenon_store_gone.sh XENON BLK_GUEST HVD_DOM0_VIEW
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
#
# A guest's death reaches blkback as VIRQ_DOM_EXC, not only through the
# store. With the store there, a disk guest killed -9 has its vbd torn down
# exactly once (VIRQ_DOM_EXC and @releaseDomain both come; a later store
# event shows blkback has read the latter) and its nodes removed. With the
# store gone, another one killed -9 is still released: blkback logs it,
# and xenon-hvd (hvd_dom0_view: LIST, dom0's ports, GNT_COUNTS) shows the
# domain gone, dom0 holding no port to it and no grant page mapped, and
# blkback's process maps no guest RAM any more. Before, that vbd stayed
# mapped until blkback stopped.
# Bounded waits only; processes are found by pid (or by the tag every
# process of the run inherits); logs printed on failure.
set -u
XENON=$(realpath "$1")
BLK_GUEST=$(realpath "$2")
VIEW=$(realpath "$3")
D=$(mktemp -d "${TMPDIR:-/tmp}/xenon-store-gone.XXXXXX")
RUN=$D/run
TAG="XENON_STORE_GONE_TAG=$D"
export XENON_RUN_DIR=$RUN XENSTORED_PATH=$RUN/xenstore/socket
. "$(dirname "$0")/../test_lib.sh"
UNTIL_STEP=0.1

finish() {
	[ -n "${S:-}" ] && kill "$S" 2>/dev/null
	timeout 30 "$XENON" down >/dev/null 2>&1
	kill_tagged
	tap_finish "$D" "$RUN"/hvd.log "$RUN"/console/consoled.log "$RUN"/blkback/blkback.log \
		"$RUN"/monitor.log "$D"/err
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
# xenon-hvd's view, store or none: `hvd_dom0_view` lines (domain, port, maps).
view() { "$VIEW" "$RUN"; }
dom_pid() { view | awk -v d="$1" '$1 == "domain" && $2 == d { print $4 }'; }
listed() { view | grep -q "^domain $1 "; }
# dom0's port $1: "STATE REMOTE" while in use, nothing once closed.
port_state() { view | awk -v p="$1" '$1 == "port" && $2 == p { print $3, $4 }'; }
ports_naming() { view | awk -v d="$1" '$1 == "port" && $4 == d' | wc -l; }
maps() { view | awk '$1 == "maps" { print $2 }'; }
maps_ram() { grep -c "memfd:xenon-ram" "/proc/$BB/maps" 2>/dev/null; }
bb_log_has() { grep -qF "$1" "$RUN/blkback/blkback.log" 2>/dev/null; }
bb_log_count() { grep -cF "$1" "$RUN/blkback/blkback.log" 2>/dev/null; }
# A disk guest looping on its vbd, domid $1; its image in $D.
disk_guest() {
	truncate -s 4M "$D/d$1.img"
	printf 'name = "disk%s"\ntype = "process"\nkernel = "%s"\nmemory = 32\nvcpus = 1\ndomid = %s\ndisk = [ "%s,raw,xvda,rw" ]\nextra = "blk.mode=3"\n' \
		"$1" "$BLK_GUEST" "$1" "$D/d$1.img" >"$D/d$1.cfg"
	timeout 10 env "$TAG" "$XENON" create "$D/d$1.cfg"
}
# Our port for vbd $1/51712, from its "connected, ..., port N" line.
vbd_port() {
	grep -F "vbd $1/51712: connected" "$RUN/blkback/blkback.log" | tail -1 |
		sed -n 's/.*, port \([0-9]*\).*/\1/p'
}
store_has() { xenstore-exists "$1" 2>/dev/null; }

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
# A client gone early must fail the checks below, not kill this script
# with SIGPIPE at its next write (and lose the logs).
trap '' PIPE
timeout 60 "$XENON" console 1 <"$D/in" >"$D/out" 2>"$D/err" &
S=$!
exec 7>"$D/in"
printf 'before the kill\n' >&7
check "  a console client's line comes back" until_ok 100 grep -qF "BEFORE THE KILL" "$D/out"

# ---- a disk guest dies with the store there: torn down exactly once ----
check "a disk guest (domid 2)" quiet disk_guest 2
check "  blkback connects its vbd" until_ok 100 bb_log_has "vbd 2/51712: connected"
PA=$(vbd_port 2) GA=$(dom_pid 2)
check "  dom0 port $PA bound to it, its nodes written" eval \
	'[ -n "$PA" ] && [ "$(port_state "$PA")" = "interdomain 2" ] &&
	store_has /local/domain/0/backend/vbd/2/51712'
[ -n "$GA" ] && kill -9 "$GA"
check "kill -9 it: blkback disconnects the vbd" until_ok 100 \
	bb_log_has "vbd 2/51712: disconnected"
check "  its back-end nodes are removed" until_ok 100 eval '! store_has /local/domain/0/backend/vbd/2'
check "  the monitor removes its home (@releaseDomain came)" until_ok 100 \
	eval '! store_has /local/domain/2'
bb_log_has "vbd(s) of front ends gone torn down" &&
	echo "# torn down on VIRQ_DOM_EXC" || echo "# torn down through the store"

# ---- a disk guest that lives on until the store is gone ----
# Created after the death above: blkback reads the store's events in order,
# so once it serves this one it has read that death's @releaseDomain too.
check "a second disk guest (domid 3)" quiet disk_guest 3
check "  blkback connects its vbd" until_ok 100 bb_log_has "vbd 3/51712: connected"
check "the first vbd was torn down exactly once" eval \
	'[ "$(bb_log_count "vbd 2/51712: disconnected")" = 1 ] &&
	[ "$(bb_log_count "front end domain 2 gone")" = 1 ]'
check "  no unmap failed" eval '! bb_log_has "unmap"'
check "  dom0 holds no port naming domain 2 (blkback's was $PA)" eval '[ "$(ports_naming 2)" = 0 ]'
PB=$(vbd_port 3) GB=$(dom_pid 3)
# What the kill below must release, seen while the guest lives (or the
# checks after it would prove nothing).
check "  dom0 port $PB bound to it, grant pages mapped, blkback maps guest RAM" eval \
	'[ -n "$PB" ] && [ "$(port_state "$PB")" = "interdomain 3" ] && [ "$(maps)" -gt 0 ] &&
	[ "$(maps_ram)" -gt 0 ]'

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

# ---- the second disk guest dies with the store gone: released all the same ----
check "the disk guest (domid 3) still runs" eval '[ -n "$GB" ] && ! gone "$GB" && listed 3'
[ -n "$GB" ] && kill -9 "$GB"
check "kill -9 it: blkback disconnects the vbd" until_ok 100 \
	bb_log_has "vbd 3/51712: disconnected"
check "  logging why, and that its nodes are left" eval \
	'bb_log_has "front end domain 3 gone" && bb_log_has "vbd/3/51712: closing it in the store"'
check "  xenon-hvd lists it no more" until_ok 100 eval '! listed 3'
check "  dom0 holds no port naming it; blkback's ($PB) is closed" until_ok 100 eval \
	'[ "$(ports_naming 3)" = 0 ] && [ -z "$(port_state "$PB")" ]'
check "  no grant page is mapped by dom0" until_ok 100 eval '[ "$(maps)" = 0 ]'
check "  blkback maps no guest RAM" until_ok 100 eval '[ "$(maps_ram)" = 0 ]'
check "  torn down once; blkback runs on" eval \
	'[ "$(bb_log_count "vbd 3/51712: disconnected")" = 1 ] && ! gone "$BB"'

check "xenon down" quiet timeout 30 "$XENON" down
check "  xenon-hvd is gone" until_ok 100 gone "$HVD"
check "  and the guest" until_ok 100 gone "$G"
check "  and consoled and blkback" until_ok 100 eval 'gone "$CD" && gone "$BB"'
check "  no process of this run left" until_ok 50 eval '[ -z "$(live_tagged)" ]'
check "  socket and pid file removed" eval '[ ! -e "$RUN/hvd.sock" ] && [ ! -e "$RUN/hvd.pid" ]'
