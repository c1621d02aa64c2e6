#!/bin/bash
# xenon-hvd's own death with live domains, in private run dirs. TAP.
#   hvd_lifecycle.sh XENON XENON_HVD GUESTS_DIR
#
# 1. SIGTERM with two live domains (one running, one paused) and xenstored
#    connected: exit 0 within a bounded time (the hang it catches: xenstored,
#    told to stop, unbound its ports through hvd.sock while xenon-hvd sat in
#    waitpid() for it), no process, socket or pid file left, no SIGKILL
#    fallback needed. Its services (xenon-consoled, xenon-blkback) were
#    started before it said READY and are stopped with it.
# 2. SIGKILL of xenon-hvd: every domain process dies too (PR_SET_PDEATHSIG in
#    the runtime, and the watchdog on the hypercall socket), paused ones
#    included; xenstored and the services (xenon-monitor among them) go as
#    well.
# 3. A guest whose parent is not the xenon-hvd its XENON_BOOT names (the
#    daemon died between spawn and prctl) refuses to boot.
#
# xenon-hvd is started here, as our child, so its exit status is ours to see;
# readiness comes through its --ready-fd (a FIFO). Every process the run
# makes carries XENON_LIFECYCLE_TAG in its environment: "no process left"
# means no live process with that tag.
set -u
XENON=$(realpath "$1") HVD=$(realpath "$2") GUESTS=$(realpath "$3")
T=$(mktemp -d "${TMPDIR:-/tmp}/hvd-lifecycle.XXXXXX")
TAG="XENON_LIFECYCLE_TAG=$T"
H=
. "$(dirname "$0")/../test_lib.sh"

none_tagged() { [ -z "$(tagged)" ]; }

finish() {
	[ -n "$H" ] && kill -9 "$H" 2>/dev/null
	kill_tagged
	tap_finish "$T" "$T"/*/hvd.log "$T"/*/hvd.stderr "$T"/*/monitor.log "$T"/*/domain-*.log \
		"$T"/*/xenstore/xenstored.log "$T"/*/run/hvd.log "$T"/*/run/blkback/blkback.log
}
trap 'finish; exit $?' EXIT

# start NAME: xenon-hvd in $T/NAME/run, our child, ready or bail out.
start() {
	local line=
	RUN=$T/$1/run
	mkdir -p "$T/$1"
	export XENON_RUN_DIR=$RUN XENSTORED_PATH=$RUN/xenstore/socket
	rm -f "$T/ready"
	mkfifo "$T/ready"
	env "$TAG" "$HVD" --run-dir "$RUN" --ready-fd 3 --dom0-reserve 121:1,122:2 \
		3>"$T/ready" 2>"$T/$1/hvd.stderr" &
	H=$!
	read -r -t 20 line <"$T/ready"
	if [ "$line" != READY ]; then
		echo "Bail out! xenon-hvd ($1) did not become ready"
		exit 1
	fi
}

# guests: dom1 pong (running), dom2 ping (paused, SIGSTOPped); both wait on
# their channel forever (pingpong.n large), so they are idle and alive.
cfg() { # file name domid extra [more]
	printf 'name = "%s"\ntype = "process"\nkernel = "%s"\nmemory = 4\nvcpus = 1\ndomid = %s\nextra = "%s"\n%s\n' \
		"$2" "$GUESTS/pingpong" "$3" "$4" "${5:-}" >"$T/$1"
}
cfg pong.cfg pong 1 "pingpong.port=10 pingpong.n=1000000"
cfg ping.cfg ping 2 "pingpong.port=10 pingpong.n=1000000 pingpong.role=ping" \
	"$(printf 'evtchn_reserve = [ "domain=1,port=10,remote=self" ]\nevtchn_bind = [ "port=10,remote=1,remote_port=10" ]')"
two_domains() {
	timeout 10 env "$TAG" "$XENON" create "$T/pong.cfg" >/dev/null &&
		timeout 10 env "$TAG" "$XENON" create -p "$T/ping.cfg" >/dev/null
}
pid_of() { # domid
	"$XENON" list --json | python3 -c "import json,sys; print([x['pid'] for x in json.load(sys.stdin) if x['domid']==$1][0])"
}

# ---- 1. SIGTERM with live domains ----
start term
check "term: two domains created (one paused)" two_domains
P1=$(pid_of 1) P2=$(pid_of 2)
check "term: both have processes" test "${P1:-0}" -gt 0 -a "${P2:-0}" -gt 0
XS=$(cat "$RUN/xenstore/xenstored.pid" 2>/dev/null)
check "term: xenstored runs" test -n "$XS"
# Started by xenon-hvd before its READY; the pid file is written before
# blkback's own READY.
BB=$(cat "$RUN/blkback/blkback.pid" 2>/dev/null)
check "term: xenon-blkback runs (pid ${BB:-none})" test -n "$BB" -a -d "/proc/${BB:-0}"
check "term: xenon-blkback is xenon-hvd's child" test "$(ppid_of "${BB:-0}")" = "$H"
# hvd, its spawner, xenstored, consoled, blkback, the monitor, two guests:
# the tag sees them all.
check "term: the run's processes carry the tag ($(tagged | wc -l))" test "$(tagged | wc -l)" -ge 8
t0=$(date +%s%N)
kill -TERM "$H"
# Bound: 100 x 50 ms, well above the 5 s SIGKILL fallback for xenstored.
until_ok 160 gone "$H"
stopped=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check "term: xenon-hvd exits within 8 s (took $ms ms)" test "$stopped" = 0
if [ "$stopped" = 0 ]; then
	wait "$H"
	rc=$?
else
	kill -9 "$H"
	wait "$H"
	rc=hung
fi
H=
check "term: exit status 0 (got $rc)" test "$rc" = 0
check "term: xenstored and the services needed no SIGKILL" eval "! grep -q SIGKILL '$RUN/hvd.log'"
check "term: domain, xenstored and monitor processes gone" until_ok 100 none_tagged
check "term: xenstored (pid $XS) gone" gone "$XS"
check "term: xenon-blkback (pid $BB) gone, its pid file removed" \
	eval "gone '$BB' && test ! -e '$RUN/blkback/blkback.pid'"
# It stops on SIGTERM or, as here, on the hang-up of its hvd.sock
# connection, which xenon-hvd closes first (hvd_quiesce()); either way by
# itself, without the SIGKILL fallback (checked above).
check "term: xenon-blkback stopped by itself (its log)" \
	grep -q "stopping" "$RUN/blkback/blkback.log"
check "term: hvd.sock, hvd.pid, store socket removed" \
	test ! -e "$RUN/hvd.sock" -a ! -e "$RUN/hvd.pid" -a ! -e "$RUN/xenstore/socket"

# ---- 2. SIGKILL: guests do not outlive xenon-hvd ----
start kill
check "kill: two domains created (one paused)" two_domains
P1=$(pid_of 1) P2=$(pid_of 2)
check "kill: both have processes" test "${P1:-0}" -gt 0 -a "${P2:-0}" -gt 0
BB=$(cat "$RUN/blkback/blkback.pid" 2>/dev/null)
kill -KILL "$H"
wait "$H" 2>/dev/null
H=
check "kill: the running domain's process dies" until_ok 100 gone "$P1"
check "kill: the paused domain's process dies" until_ok 100 gone "$P2"
check "kill: xenon-blkback (pid ${BB:-none}) dies with it" until_ok 100 gone "${BB:-0}"
check "kill: no process of the run is left (xenstored, services, monitor)" until_ok 100 none_tagged
for p in $(tagged); do echo "#   alive: $(ps -o pid=,stat=,cmd= -p "$p")"; done

# ---- 3. the orphan check at boot ----
out=$(env XENON_BOOT="v=1 domid=3 vcpus=1 ram=3 evt=4 xen=5 hc=6 max_pages=256 max_gfn=1280 start_info=255 evt_pages=37 xen_pages=72 ppid=1" \
	timeout 10 "$GUESTS/hello" 2>&1)
rc=$?
check "orphan: a guest whose xenon-hvd is gone exits 2 at boot" test "$rc" = 2
check "orphan: and says why" grep -qF "boot failed at 'parent': xenon-hvd (pid 1) is gone" <<<"$out"
