#!/bin/bash
# kill -9 of a domain in the middle of traffic, in a private run dir. TAP.
#   hvd_kill9.sh XENON XENON_HVD GUESTS_DIR
#
# Two pingpong domains bounce events continuously (pong dom1, ping dom2
# bound to dom1's reserved port 10). A `xenstore-watch @releaseDomain',
# started before the kill, reports through a FIFO. Then ping's process gets
# SIGKILL. Expected, each within a bounded wait: dom1's port 10 reverts to
# unbound (`xenon evtchn'), dom2 leaves `xenon list', its store home goes,
# @releaseDomain fires (dom0 got VIRQ_DOM_EXC and xenstored released the
# domain), and xenon-hvd holds as many fds as before dom2 existed, with no
# process of dom2's left (its guest; there is no monitor per domain: the
# run dir's one xenon-monitor, there before, stays). The survivor still runs.
set -u
XENON=$(realpath "$1") HVD=$(realpath "$2") GUESTS=$(realpath "$3")
T=$(mktemp -d "${TMPDIR:-/tmp}/hvd-kill9.XXXXXX")
TAG="XENON_KILL9_TAG=$T"
RUN=$T/run
export XENON_RUN_DIR=$RUN XENSTORED_PATH=$RUN/xenstore/socket
H= W=
. "$(dirname "$0")/../test_lib.sh"
fds() { ls "/proc/$H/fd" | wc -l; }
fds_are() { [ "$(fds)" = "$1" ]; }
# A standby waiting in our xenon-hvd (the program last started, started
# once more ahead of its domain: procdom_spawner.h) is nobody's domain yet:
# left out of the comparisons; every other tagged process counts.
standby() {
	[ "$(cat "/proc/$1/comm" 2>/dev/null)" = xenon-standby ] &&
		[ "$(awk '{ print $4 }' "/proc/$1/stat" 2>/dev/null)" = "$H" ]
}
domains_tagged() { local p; for p in $(tagged); do standby "$p" || echo "$p"; done; }
tagged_are() { [ "$(domains_tagged | tr '\n' ' ')" = "$1" ]; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }
in_list() { "$XENON" list --json | python3 -c "import json,sys; sys.exit(0 if any(x['domid']==$1 for x in json.load(sys.stdin)) else 1)"; }
not_in_list() { ! in_list "$1"; }
store_gone() { ! xenstore-read "/local/domain/$1/name" >/dev/null 2>&1; }
port_state() { "$XENON" evtchn "$1" | awk -v p="$2" '$2 == p { print $3 }'; }
port_is() { [ "$(port_state "$1" "$2")" = "$3" ]; }
pid_of() {
	"$XENON" list --json | python3 -c "import json,sys; print([x['pid'] for x in json.load(sys.stdin) if x['domid']==$1][0])"
}

finish() {
	[ -n "$W" ] && kill "$W" 2>/dev/null
	[ -n "$H" ] && kill -9 "$H" 2>/dev/null
	kill_tagged
	tap_finish "$T" "$RUN"/hvd.log "$RUN"/hvd.stderr "$RUN"/monitor.log "$RUN"/domain-*.log \
		"$RUN"/xenstore/xenstored.log
}
trap 'finish; exit $?' EXIT

mkfifo "$T/ready" "$T/watch"
env "$TAG" "$HVD" --run-dir "$RUN" --ready-fd 3 -v 3>"$T/ready" 2>"$T/hvd.stderr" &
H=$!
read -r -t 20 line <"$T/ready"
[ "${line:-}" = READY ] || { echo "Bail out! xenon-hvd did not become ready"; exit 1; }

cfg() { # file name domid extra [more]
	printf 'name = "%s"\ntype = "process"\nkernel = "%s"\nmemory = 4\nvcpus = 1\ndomid = %s\nextra = "%s"\n%s\n' \
		"$2" "$GUESTS/pingpong" "$3" "$4" "${5:-}" >"$T/$1"
}
# n large: they bounce for as long as the test runs.
cfg pong.cfg pong 1 "pingpong.port=10 pingpong.n=100000000"
cfg ping.cfg ping 2 "pingpong.port=10 pingpong.n=100000000 pingpong.role=ping" \
	"$(printf 'evtchn_reserve = [ "domain=1,port=10,remote=self" ]\nevtchn_bind = [ "port=10,remote=1,remote_port=10" ]')"

check "create pong (dom1, paused)" quiet timeout 10 env "$TAG" "$XENON" create -p "$T/pong.cfg"
# The daemon's fds and our processes with dom1 alone: the state to return to.
# xenon-monitor tracks dom1 once it has seen its /tool/xenon/1 (after
# `create' returned). xenon-hvd accepts asynchronously: take the baseline
# once the count has held still for 10 samples (0.5 s).
check "xenon-monitor tracks dom1" \
	until_ok 100 grep -qE "domain 1 \(pong\) instance [0-9a-f]+: tracking" "$RUN/monitor.log"
stable_fds() {
	local i same=0 last=-1 n
	for ((i = 0; i < 200 && same < 10; i++)); do
		n=$(fds)
		if [ "$n" = "$last" ]; then same=$((same + 1)); else same=0 last=$n; fi
		sleep 0.05
	done
	echo "$last"
}
FDS0=$(stable_fds)
fd_list() { for f in /proc/$H/fd/*; do echo "${f##*/} $(readlink "$f")"; done | sort; }
fd_list >"$T/fds0"
TAGGED0="$(domains_tagged | tr '\n' ' ')"
check "create ping (dom2), bound to dom1:10" quiet timeout 10 env "$TAG" "$XENON" create "$T/ping.cfg"
check "unpause pong" quiet timeout 10 "$XENON" unpause 1
P1=$(pid_of 1) P2=$(pid_of 2)
check "dom1:10 interdomain with dom2" port_is 1 10 interdomain
# Traffic: both processes burn CPU bouncing events (bounded wait for it).
c1=$(cpu_ticks "$P1") c2=$(cpu_ticks "$P2")
check "events flow: both domains are busy" \
	until_ok 200 eval '[ "$(cpu_ticks $P1)" -gt "$c1" ] && [ "$(cpu_ticks $P2)" -gt "$c2" ]'

# The watch first: its registration fires once, then each release.
env "$TAG" xenstore-watch @releaseDomain >"$T/watch" 2>/dev/null &
W=$!
exec 5<"$T/watch"
read -r -t 10 first <&5
check "xenstore-watch @releaseDomain registered" test "${first:-}" = @releaseDomain

kill -9 "$P2"
check "kill -9: dom2's process is gone" until_ok 100 gone "$P2"
check "kill -9: dom2 leaves xenon list" until_ok 100 not_in_list 2
check "kill -9: dom1:10 reverts to unbound" until_ok 100 port_is 1 10 unbound
read -r -t 10 fired <&5
check "kill -9: @releaseDomain fired (VIRQ_DOM_EXC reached xenstored)" test "${fired:-}" = @releaseDomain
check "kill -9: dom2's store home is removed" until_ok 100 store_gone 2
kill "$W" 2>/dev/null
wait "$W" 2>/dev/null
W=
exec 5<&-
if until_ok 100 tagged_are "$TAGGED0"; then
	ok "kill -9: no process of dom2 left, the same others (monitor included)"
else
	not_ok "kill -9: no process of dom2 left, the same others (monitor included)"
	for p in $(tagged); do echo "#   alive: $(ps -o pid=,stat=,cmd= -p "$p")"; done
fi
check "kill -9: xenon-hvd's fds back to $FDS0" until_ok 100 fds_are "$FDS0"
echo "#   hvd fds: with dom1 alone $FDS0, after dom2's death $(fds)"
fd_list | diff "$T/fds0" - | sed 's/^/#   fd /' || true
check "kill -9: the survivor dom1 still runs" eval "! gone $P1 && in_list 1"
check "kill -9: the crash is logged" grep -q "d2: process died" "$RUN/hvd.log"

kill -TERM "$H"
check "SIGTERM: xenon-hvd exits" until_ok 160 gone "$H"
wait "$H"
rc=$?
H=
check "SIGTERM: exit 0" test "$rc" = 0
