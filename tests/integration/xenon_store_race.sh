#!/bin/bash
# A late remover against a domain created again under the same domid, with
# the real toolstack and daemons in a private run dir. TAP.
#   xenon_store_race.sh XENON
#
# The late remover is the run dir's xenon-monitor (tools/xenon/monitor.c),
# its sweep racing a re-creation. Domain A (domid 5, paused, with a
# back-end directory nobody serves) is in the monitor's table. xenstored is
# stopped (SIGSTOP) while the monitor is idle, and A's process killed: no
# @releaseDomain can come, but the monitor's safety-net sweep (every 5 s)
# sees A gone in xenon-hvd and starts removing A's entries, which waits on
# the stopped xenstored; there the monitor is stopped too (D/monitor.pid).
# xenstored goes on, and domain B is created with domid 5. Then the monitor
# goes on: it must leave B's entries (home, /tool/xenon/5, back-end dir)
# intact and say so in monitor.log. Then B's process is killed, and the
# monitor, whose table took B's token meanwhile, removes all of B's
# entries. Removing by domid alone, the late sweep removed B's entries.
# Bounded waits only; processes are found by pid; logs printed on failure.
set -u
XENON=$(realpath "$1")
D=$(mktemp -d "${TMPDIR:-/tmp}/xenon-race.XXXXXX")
RUN=$D/run
export XENON_RUN_DIR=$RUN XENSTORED_PATH=$RUN/xenstore/socket
. "$(dirname "$0")/../test_lib.sh"
UNTIL_STEP=0.1
XSD= MA=
DOM=5
BE=/local/domain/0/backend/vif/$DOM

# Every process of the run (xenon-hvd's environment is inherited).
TAG="XENON_RACE_TAG=$D"
pid_of() {
	"$XENON" list --json | python3 -c "import json,sys; print([x['pid'] for x in json.load(sys.stdin) if x['domid']==$1][0])"
}
in_store() { xenstore-read "$1" >/dev/null 2>&1; }
absent() { ! in_store "$1"; }
log_has() { grep -qF "$1" "$RUN/monitor.log" 2>/dev/null; }
stopped() { [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = T ]; }
# The monitor idle in its loop: its main thread waits in poll(2) (its
# wchan, or the system call: poll or ppoll on x86-64), with no request to
# xenstored outstanding.
idle() {
	case $(cat "/proc/$1/wchan" 2>/dev/null) in *poll*) return 0 ;; esac
	case $(cut -d' ' -f1 "/proc/$1/syscall" 2>/dev/null) in 7 | 271) return 0 ;; esac
	return 1
}
# xenstored stopped while the monitor is idle: a monitor caught in the
# middle of a request (a watch event, its sweep) would wait there until
# xenstored goes on, and never see A gone meanwhile. Idle, only its
# safety-net sweep can see it, and the removal's first request is where it
# stops. Caught mid-request: xenstored goes on, again.
stop_store_monitor_idle() {
	local i
	for ((i = 0; i < 5; i++)); do
		kill -STOP "$XSD"
		until_ok 50 stopped "$XSD" && until_ok 10 idle "$MA" && return 0
		kill -CONT "$XSD"
		until_ok 50 idle "$MA"
	done
	return 1
}

finish() {
	# Nothing may stay stopped: `xenon down' needs xenstored.
	[ -n "$XSD" ] && kill -CONT "$XSD" 2>/dev/null
	[ -n "$MA" ] && kill -CONT "$MA" 2>/dev/null
	timeout 30 "$XENON" down >/dev/null 2>&1
	kill_tagged
	tap_finish "$D" "$RUN"/monitor.log "$RUN"/hvd.log "$RUN"/xenstore/xenstored.log
}
trap 'finish; exit $?' EXIT

check "xenon up" quiet timeout 30 env "$TAG" "$XENON" up
XSD=$(cat "$RUN/xenstore/xenstored.pid" 2>/dev/null)
[ -n "$XSD" ] || { echo "Bail out! no xenstored pid"; exit 1; }
MA=$(cat "$RUN/monitor.pid" 2>/dev/null)
[ -n "$MA" ] || { echo "Bail out! no xenon-monitor pid"; exit 1; }
printf 'name = "a"\nkernel = "seed002-demo-domu"\nmemory = 4\n' >"$D/a.cfg"

# ---- domain A, in the monitor's table ----
out=$(timeout 10 "$XENON" create -p "$D/a.cfg" domid=$DOM 2>&1)
check "create A as domain $DOM" test "$out" = "created domain $DOM (a), paused"
TOKEN_A=$(xenstore-read /tool/xenon/$DOM/instance 2>/dev/null)
xenstore-write "$BE/0/mac" a
PA=$(pid_of $DOM)
# It reads the new instance when the watch on /tool/xenon fires.
check "the monitor tracks A's instance" \
	until_ok 100 log_has "domain $DOM (a) instance $TOKEN_A: tracking"

# ---- the monitor caught between seeing A gone and removing ----
check "xenstored stopped, the monitor idle" stop_store_monitor_idle
kill -9 "$PA"
check "the monitor's sweep sees A gone and starts removing" \
	until_ok 100 log_has "domain $DOM (a) instance $TOKEN_A: gone: removing"
kill -STOP "$MA"
check "the monitor is stopped" until_ok 50 stopped "$MA"
kill -CONT "$XSD"

# ---- domain B with the same domid ----
out=$(timeout 10 "$XENON" create -p "$D/a.cfg" 'name="b"' domid=$DOM 2>&1)
check "create B as domain $DOM while the monitor's removal waits" \
	test "$out" = "created domain $DOM (b), paused"
xenstore-write "$BE/0/mac" b
TOKEN_B=$(xenstore-read /tool/xenon/$DOM/instance 2>/dev/null)
check "B's instance token recorded" test -n "$TOKEN_B"

# ---- the monitor goes on, late ----
kill -CONT "$MA"
check "the monitor's late removal ends" until_ok 100 log_has \
	"domain $DOM (a) instance $TOKEN_A: domid $DOM is another domain's now: removed nothing"
check "the monitor's table takes B's instance" \
	until_ok 100 log_has "domain $DOM (b) instance $TOKEN_B: tracking"
check "B's home is intact" test "$(xenstore-read /local/domain/$DOM/name 2>&1)" = b
check "B's /tool/xenon/$DOM is intact (same token)" \
	test "$(xenstore-read /tool/xenon/$DOM/instance 2>&1)" = "$TOKEN_B"
check "B's back-end directory is intact" test "$(xenstore-read "$BE/0/mac" 2>&1)" = b
check "no removal of A's is logged" \
	eval '! log_has "domain $DOM (a) instance $TOKEN_A: store entries removed"'
check "B is still listed" test -n "$(pid_of $DOM 2>/dev/null)"

# ---- B dies: the monitor, with B's token, removes everything ----
kill -9 "$(pid_of $DOM)"
check "the monitor removes B's home" until_ok 100 absent /local/domain/$DOM
check "  and /tool/xenon/$DOM" until_ok 100 absent /tool/xenon/$DOM
check "  and the back-end directory" until_ok 100 absent "$BE"
check "the monitor says so" \
	until_ok 100 log_has "domain $DOM (b) instance $TOKEN_B: store entries removed"
check "the same monitor throughout (pid $MA)" test "$(cat "$RUN/monitor.pid" 2>/dev/null)" = "$MA"
