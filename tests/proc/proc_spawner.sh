#!/bin/bash
# The spawner (substrate/proc/procdom_spawner.h) end to end, in a private
# run dir. TAP.
#   proc_spawner.sh XENON_CLI GUESTS_DIR
#
# xenon-hvd forks a small spawner at start-up; domain processes are made by
# it with CLONE_PARENT, so they are still xenon-hvd's children. Checked:
# the spawner runs (a child of xenon-hvd named xenon-spawner); a domain
# process's parent is xenon-hvd and XENON_BOOT's ppid= names it; the
# process holds exactly its fds (0-2, ram, evt, xen, one socket per vCPU:
# nothing of xenon-hvd's or the spawner's leaked); a crash (kill -9) is
# still detected and the domain destroyed; a killed spawner is replaced at
# the next create, logged once, and that create succeeds; a kernel that
# cannot be executed fails the create cleanly (no domain, no zombie);
# SIGKILL of xenon-hvd takes the domains and the spawner with it.
set -u
PROC_NAME=proc-spawner
# until_ok, gone (its check() is proc_lib's, sourced after)
. "$(dirname "$0")/../test_lib.sh"
. "$(dirname "$0")/proc_lib.sh" "$1" "$2"
t() { # description, command...
	local d=$1
	shift
	N=$((N + 1))
	if "$@"; then echo "ok $N - $d"; else echo "not ok $N - $d"; fail=1; fi
}
cfg() { # file name domid kernel vcpus
	printf 'name = "%s"\ntype = "process"\nkernel = "%s"\nmemory = 4\nvcpus = %s\ndomid = %s\nextra = "pingpong.port=10 pingpong.n=1000000"\n' \
		"$2" "$4" "$5" "$3" >"$D/$1"
}
spawner_of() { # hvd pid: its child named xenon-spawner
	local p
	for p in $(pgrep -P "$1"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = xenon-spawner ] && echo "$p"
	done
}
pid_of() { # domid
	"$X" $R list --json | python3 -c \
		"import json,sys; print([x['pid'] for x in json.load(sys.stdin) if x['domid']==$1][0])"
}
fds_of() { # pid: "fd:target" per fd, sorted by fd
	local f
	for f in /proc/$1/fd/*; do
		echo "${f##*/}:$(readlink "$f")"
	done | sort -n | sed 's/socket:.*/socket/; s|^\([12]\):.*/\(domain-[0-9]*\.log\)$|\1:\2|' | tr '\n' ' '
}
listed() { "$X" $R list | grep -qw "$1"; }

up spawner
HVD=$(cat "$RD/hvd.pid")
SP=$(spawner_of "$HVD")
t "a spawner runs as xenon-hvd's child" test -n "$SP"
cfg two.cfg two 1 "$G/pingpong" 2
t "create a 2-vCPU domain" eval 'timeout 10 "$X" $R create "$D/two.cfg" >/dev/null'
P=$(pid_of 1 2>/dev/null)
t "its parent is xenon-hvd (CLONE_PARENT)" \
	test "$(awk '/^PPid:/ { print $2 }' "/proc/${P:-0}/status" 2>/dev/null)" = "$HVD"
t "XENON_BOOT names xenon-hvd as ppid" \
	eval "tr '\\0' '\\n' </proc/${P:-0}/environ | grep -q '^XENON_BOOT=.* ppid=$HVD '"
want="0:/dev/null 1:domain-1.log 2:domain-1.log 3:/memfd:xenon-ram (deleted) 4:/memfd:xenon-evt (deleted) 5:/memfd:xenon-xen (deleted) 6:socket 7:socket "
# The spawner answers once the exec has replaced the child's memory; the
# kernel closes its close-on-exec fds (the spawner's) a moment later in the
# same execve(): look again, bounded (a leaked fd stays).
got=
until_ok 100 eval 'got=$(fds_of "${P:-0}"); [ "$got" = "$want" ]'
t "it holds exactly its own fds" test "$got" = "$want"
[ "$got" = "$want" ] || echo "# got: $got"
t "the spawner holds no domain fd" \
	eval "! ls -l /proc/${SP:-0}/fd 2>/dev/null | grep -q memfd"

kill -9 "$P"
t "a killed domain process is detected and the domain destroyed" \
	eval 'until_ok 100 eval "! listed two"'
t "  ... and logged" grep -q "d1: process died" "$RD/hvd.log"

kill -9 "$SP"
until_ok 100 gone "$SP"
cfg a.cfg a 2 "$G/pingpong" 1
t "after the spawner was killed, a create succeeds" \
	eval 'timeout 10 "$X" $R create "$D/a.cfg" >/dev/null'
NSP=$(spawner_of "$HVD")
t "a new spawner runs" test -n "$NSP" -a "$NSP" != "$SP"
t "the loss is logged once" test "$(grep -c "spawner (pid $SP) is gone" "$RD/hvd.log")" = 1
P2=$(pid_of 2 2>/dev/null)
t "the new domain's parent is xenon-hvd" \
	test "$(awk '/^PPid:/ { print $2 }' "/proc/${P2:-0}/status" 2>/dev/null)" = "$HVD"
# Executable but not a program: the exec in the spawner's child fails.
printf '\177\177garbage\n' >"$D/not-a-program"
chmod +x "$D/not-a-program"
cfg bad.cfg bad 3 "$D/not-a-program" 1
t "a kernel that cannot be executed fails the create" \
	eval '! timeout 10 "$X" $R create "$D/bad.cfg" >/dev/null 2>&1'
t "  ... logged with the exec's error" grep -q "d3: create failed: Exec format error" "$RD/hvd.log"
t "  ... and leaves no domain" eval '! listed bad'
t "  ... and no zombie child of xenon-hvd" \
	eval "! ps -o stat= --ppid $HVD | grep -q Z"
t "  ... and the spawner serves on" test "$(spawner_of "$HVD")" = "$NSP"
# Unpaused, the program starts in the background and the failure shows at
# UNPAUSE (above); created paused (-p), CREATE itself waits and fails.
cfg badp.cfg badp 4 "$D/not-a-program" 1
t "paused, the create fails too" \
	eval '! timeout 10 "$X" $R create -p "$D/badp.cfg" >/dev/null 2>&1'
t "  ... logged with the exec's error" grep -q "d4: create failed: Exec format error" "$RD/hvd.log"
t "  ... and leaves no domain" eval '! listed badp'
t "  ... and no zombie child of xenon-hvd" \
	eval "! ps -o stat= --ppid $HVD | grep -q Z"

kill -9 "$HVD"
t "SIGKILL of xenon-hvd: the domain process dies" until_ok 100 gone "${P2:-0}"
t "  ... and the spawner" until_ok 100 gone "$NSP"
echo "1..$N"
exit $fail
