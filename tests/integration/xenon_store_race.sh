#!/bin/bash
# A late remover against a domain created again under the same domid, with
# the real toolstack and daemons in a private run dir. TAP.
#   xenon_store_race.sh XENON
#
# Domain A (domid 5, paused, with a back-end directory nobody serves) has
# its monitor. xenstored is stopped (SIGSTOP), A's process killed: its
# monitor sees A gone in xenon-hvd and starts removing A's entries, which
# waits on the stopped xenstored; there the monitor is stopped too (found
# by the tag in its environment, inherited from `xenon create'). xenstored
# goes on, and domain B is created with domid 5. Then A's monitor goes on:
# it must leave B's entries (home, /tool/xenon/5, back-end dir) intact and
# say so in monitor.log. Then B's process is killed, and B's own monitor,
# with the right token, removes all of B's entries. Removing by domid
# alone, the late monitor removed B's entries.
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

tagged() { grep -lzxF "XENON_RACE_TAG=$D/$1" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3; }
pid_of() {
	"$XENON" list --json | python3 -c "import json,sys; print([x['pid'] for x in json.load(sys.stdin) if x['domid']==$1][0])"
}
in_store() { xenstore-read "$1" >/dev/null 2>&1; }
absent() { ! in_store "$1"; }
log_has() { grep -qF "$1" "$RUN/monitor.log" 2>/dev/null; }
stopped() { [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = T ]; }
# A monitor idle in its loop: its main thread waits in poll(2) (its wchan,
# or the system call: poll or ppoll on x86-64), with no request to
# xenstored outstanding.
idle() {
	case $(cat "/proc/$1/wchan" 2>/dev/null) in *poll*) return 0 ;; esac
	case $(cut -d' ' -f1 "/proc/$1/syscall" 2>/dev/null) in 7 | 271) return 0 ;; esac
	return 1
}
# xenstored stopped while A's monitor is idle: a monitor caught in the
# middle of a request (its start, a watch event, its periodic look) would
# wait there until xenstored goes on, and never see A gone meanwhile.
# Idle, only its periodic look can see it, and the removal's first
# request is where it stops. Caught mid-request: xenstored goes on, again.
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
	for p in $(tagged a) $(tagged b); do kill -9 "$p" 2>/dev/null; done
	if [ "$FAILED" -gt 0 ]; then
		for f in "$RUN"/monitor.log "$RUN"/hvd.log "$RUN"/xenstore/xenstored.log; do
			[ -s "$f" ] && { echo "# ---- $f ----"; tail -30 "$f" | sed 's/^/# /'; }
		done
	fi
	echo "1..$N"
	rm -rf "$D"
	[ "$FAILED" -eq 0 ]
}
trap 'finish; exit $?' EXIT

check "xenon up" quiet timeout 30 "$XENON" up
XSD=$(cat "$RUN/xenstore/xenstored.pid" 2>/dev/null)
[ -n "$XSD" ] || { echo "Bail out! no xenstored pid"; exit 1; }
printf 'name = "a"\nkernel = "seed002-demo-domu"\nmemory = 4\n' >"$D/a.cfg"

# ---- domain A and its monitor ----
out=$(XENON_RACE_TAG=$D/a timeout 10 "$XENON" create -p "$D/a.cfg" domid=$DOM 2>&1)
check "create A as domain $DOM" test "$out" = "created domain $DOM (a), paused"
check "A's monitor runs" until_ok 100 eval '[ -n "$(tagged a)" ]'
MA=$(tagged a)
xenstore-write "$BE/0/mac" a
PA=$(pid_of $DOM)
# It reads its instance, then sets its watches, whose first events it
# handles at once: all of that needs xenstored.
check "A's monitor watches its instance" \
	until_ok 100 log_has "domain $DOM (a): watching instance"

# ---- A's monitor caught between seeing A gone and removing ----
check "xenstored stopped, A's monitor idle" stop_store_monitor_idle
kill -9 "$PA"
check "A's monitor sees A gone and starts removing" \
	until_ok 100 grep -q "domain $DOM (a).*gone: removing" "$RUN/monitor.log"
kill -STOP "$MA"
check "A's monitor is stopped" until_ok 50 stopped "$MA"
kill -CONT "$XSD"

# ---- domain B with the same domid ----
out=$(XENON_RACE_TAG=$D/b timeout 10 "$XENON" create -p "$D/a.cfg" 'name="b"' domid=$DOM 2>&1)
check "create B as domain $DOM while A's monitor waits" \
	test "$out" = "created domain $DOM (b), paused"
check "B's monitor runs" until_ok 100 eval '[ -n "$(tagged b)" ]'
xenstore-write "$BE/0/mac" b
TOKEN_B=$(xenstore-read /tool/xenon/$DOM/instance 2>/dev/null)
check "B's instance token recorded" test -n "$TOKEN_B"

# ---- A's monitor goes on, late ----
kill -CONT "$MA"
check "A's monitor exits" until_ok 100 gone "$MA"
MA=
check "B's home is intact" test "$(xenstore-read /local/domain/$DOM/name 2>&1)" = b
check "B's /tool/xenon/$DOM is intact (same token)" \
	test "$(xenstore-read /tool/xenon/$DOM/instance 2>&1)" = "$TOKEN_B"
check "B's back-end directory is intact" test "$(xenstore-read "$BE/0/mac" 2>&1)" = b
check "A's monitor says it removed nothing" \
	log_has "domain $DOM (a): domid $DOM is another domain's now: removed nothing"
check "B is still listed" test -n "$(pid_of $DOM 2>/dev/null)"

# ---- B dies: its monitor, with the right token, removes everything ----
kill -9 "$(pid_of $DOM)"
check "B's monitor removes B's home" until_ok 100 absent /local/domain/$DOM
check "  and /tool/xenon/$DOM" until_ok 100 absent /tool/xenon/$DOM
check "  and the back-end directory" until_ok 100 absent "$BE"
check "B's monitor says so" until_ok 100 log_has "domain $DOM (b): store entries removed"
check "B's monitor exits" until_ok 100 eval '[ -z "$(tagged b)" ]'
