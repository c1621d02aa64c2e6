#!/bin/bash
# xenon-hvd's dom0 services (dom0/hvd/services.c) with fake service
# programs given by --xenstored/--consoled/--blkback. TAP.
#   hvd_services.sh XENON_HVD HVD_CTL_PROBE
#
# The rule checked (one for xenstored and the back ends): after each start
# a service must say READY on its readiness pipe before it closes it or
# exits; otherwise the start failed: a still-running one is stopped, and
# a service never READY fails xenon-hvd's start-up (exit 1), a restarted
# back end is restarted again within its budget (5). Before this rule the
# back ends' copy ignored a restarted one that closed its pipe without
# READY: it kept running, serving nothing, and was never replaced.
# Stopping such a start does not hold xenon-hvd's loop: a LIST is answered
# at once while a service that ignores SIGTERM waits out the bound (5 s)
# before its SIGKILL (it used to answer only after those 5 s).
#
# A service that exits before READY is told apart from one that closes its
# pipe and runs on, whichever of its pipe's EOF and its pidfd xenon-hvd
# sees first: logged as "exited before it was ready: exit status N" (or
# "killed by signal S"), never sent SIGTERM nor said to be "stopped" (it
# used to be both: the EOF was taken for a start given up). Once xenstored
# has died, no back end is restarted (it would find no store).
#
# Each fake is a script in the case's dir that follows its plan: one word
# per run (the last repeats): ready (say READY, close the pipe, stay),
# close (close the pipe without a word, stay), exit (exit 1 at once),
# exit3 (exit 3 at once), kill9 (kill itself with SIGKILL at once),
# ready-exit (say READY, exit 3), deaf (ignore SIGTERM, then as close).
# It writes its pid per run.
set -u
HVD=$(realpath "$1")
PROBE=$(realpath "$2")
T=$(mktemp -d "${TMPDIR:-/tmp}/hvd-services.XXXXXX")
H=
. "$(dirname "$0")/../test_lib.sh"
# Inherited by xenon-hvd and the fakes it starts. At the end only live
# processes carrying it are killed: a pid a fake wrote long before may be
# another process's by then (pids wrap around).
export XENON_SERVICES_TAG=$T
TAG="XENON_SERVICES_TAG=$T"

finish() {
	[ -n "$H" ] && kill -9 "$H" 2>/dev/null
	kill_tagged
	tap_finish "$T" "$T"/*/run/hvd.log "$T"/*/hvd.stderr
}
trap 'finish; exit $?' EXIT

# fake CASE NAME PLAN...: the program for service NAME in case CASE.
fake() {
	local dir=$T/$1 name=$2
	shift 2
	mkdir -p "$dir"
	echo "$*" >"$dir/$name.plan"
	cat >"$dir/$name" <<'EOF'
#!/bin/bash
me=$0 fd=
while [ $# -gt 0 ]; do
	[ "$1" = --ready-fd ] && fd=$2
	shift
done
n=$(($(cat "$me.runs" 2>/dev/null || echo 0) + 1))
echo "$n" >"$me.runs"
echo $$ >"$me.pid.$n"
read -ra plan <"$me.plan"
i=$((n <= ${#plan[@]} ? n - 1 : ${#plan[@]} - 1))
case ${plan[$i]} in
ready) echo READY >&"$fd"; eval "exec $fd>&-"; exec sleep 300 ;;
close) eval "exec $fd>&-"; exec sleep 300 ;;
deaf) trap '' TERM; eval "exec $fd>&-"; exec sleep 300 ;;
ready-exit) echo READY >&"$fd"; exit 3 ;;
exit3) exit 3 ;;
kill9) kill -9 $$ ;;
*) exit 1 ;;
esac
EOF
	chmod +x "$dir/$name"
}

# start CASE: xenon-hvd with the case's three fakes, our child ($H); READY
# in $LINE (empty if it exited first; 20 s at most). No xenon-monitor: it
# would need the real store the fake xenstored is not (the rule it follows
# is the back ends' one, checked here through them).
start() {
	local dir=$T/$1
	RUN=$dir/run LOG=$dir/run/hvd.log LINE=
	rm -f "$T/ready"
	mkfifo "$T/ready"
	"$HVD" -v --run-dir "$RUN" --ready-fd 3 --xenstored "$dir/xenstored" \
		--consoled "$dir/consoled" --blkback "$dir/blkback" --no-monitor \
		3>"$T/ready" 2>"$dir/hvd.stderr" &
	H=$!
	read -r -t 20 LINE <"$T/ready"
}
# exits RC: xenon-hvd ended (10 s at most) with status RC.
exits() {
	local rc
	until_ok 200 gone "$H" || return 1
	wait "$H"
	rc=$?
	H=
	[ "$rc" = "$1" ]
}
logged() { grep -qF "$1" "$LOG"; }
# Line A is logged, and line B after it.
logged_then() { grep -F -A100000 "$1" "$LOG" | grep -qF "$2"; }
runs() { cat "$T/$1/$2.runs" 2>/dev/null || echo 0; } # CASE NAME
pid() { cat "$T/$1/$2.pid.$3" 2>/dev/null; }	    # CASE NAME RUN
alive() { [ -n "$1" ] && ! gone "$1"; }
ended() { local p; p=$(pid "$@") && [ -n "$p" ] && gone "$p"; } # CASE NAME RUN
# Every run of every fake of CASE (or of its fake NAME) is gone.
none_left() { # CASE [NAME]
	local p
	for p in $(cat "$T/$1/${2:-*}".pid.* 2>/dev/null); do
		gone "$p" || return 1
	done
}

# ---- all ready; SIGTERM ----
fake ok xenstored ready
fake ok consoled ready
fake ok blkback ready
start ok
check "all ready: xenon-hvd says READY" test "$LINE" = READY
check "all ready: xenstored started before the back ends" eval \
	'[ "$(grep -n "started:" "$LOG" | head -1 | grep -c "xenstored started")" = 1 ]'
check "all ready: each service ran once" eval \
	'[ "$(runs ok xenstored)$(runs ok consoled)$(runs ok blkback)" = 111 ]'
kill -TERM "$H"
check "SIGTERM: exit 0" exits 0
check "SIGTERM: every service stopped" none_left ok
check "SIGTERM: back ends stopped before xenstored" eval \
	'[ "$(grep "stopped (wait status" "$LOG" | tail -1 | grep -c "xenstored stopped")" = 1 ]'

# ---- xenstored closes its pipe without READY ----
fake xsclose xenstored close
fake xsclose consoled ready
fake xsclose blkback ready
start xsclose
check "xenstored closes without READY: no READY" test -z "$LINE"
check "  xenon-hvd exits 1" exits 1
check "  logged" logged "xenstored closed its readiness pipe without saying READY"
check "  the start failure logged" logged "xenstored failed to start"
check "  xenstored stopped, not left running" none_left xsclose
check "  no back end started" eval '[ "$(runs xsclose consoled)$(runs xsclose blkback)" = 00 ]'

# ---- xenstored exits before READY ----
fake xsexit xenstored exit
fake xsexit consoled ready
fake xsexit blkback ready
start xsexit
check "xenstored exits before READY: xenon-hvd exits 1" exits 1
check "  the start failure logged" logged "xenstored failed to start"

# ---- exits 3 before READY at first start: said as it is ----
fake xsexit3 xenstored exit3
fake xsexit3 consoled ready
fake xsexit3 blkback ready
start xsexit3
check "xenstored exits 3 before READY: xenon-hvd exits 1, saying what it died of" \
	eval 'exits 1 && logged "xenstored exited before it was ready: exit status 3"'
check "  then the start failure" \
	logged_then "xenstored exited before it was ready" "xenstored failed to start"
check "  no SIGTERM sent to it, nothing says stopped" \
	eval '! logged "SIGTERM" && ! logged "stopped"'
fake beexit3 xenstored ready
fake beexit3 consoled ready
fake beexit3 blkback exit3
start beexit3
check "blkback's first start exits 3 before READY: xenon-hvd exits 1, saying so" \
	eval 'exits 1 && logged "blkback exited before it was ready: exit status 3"'
check "  blkback not sent SIGTERM nor said stopped" \
	eval '! logged "blkback (pid" && ! logged "blkback stopped"'

# ---- restarted back ends that exit (3) or are killed before READY ----
fake reexit xenstored ready
fake reexit consoled ready kill9 ready
fake reexit blkback ready exit3 ready
start reexit
check "restart exits early: xenon-hvd ready" test "$LINE" = READY
kill -9 "$(pid reexit blkback 1)" "$(pid reexit consoled 1)"
check "restart exits 3 before READY: logged as such" \
	until_ok 200 logged "blkback exited before it was ready: exit status 3"
check "  counted: restart 2 started after it, and that run lives" until_ok 200 eval \
	'logged_then "blkback exited before it was ready" "blkback restart 2/5: started" &&
	alive "$(pid reexit blkback 3)"'
check "  no SIGTERM sent to it, nothing says it stopped" \
	eval '! logged "blkback (pid" && ! logged "blkback stopped"'
check "restart killed by SIGKILL before READY: logged as such" \
	until_ok 200 logged "consoled exited before it was ready: killed by signal 9"
check "  counted: restart 2 started after it, and that run lives" until_ok 200 eval \
	'logged_then "consoled exited before it was ready" "consoled restart 2/5: started" &&
	alive "$(pid reexit consoled 3)"'
kill -TERM "$H"
check "restart exits early: SIGTERM, exit 0" exits 0
check "restart exits early: nothing left" none_left reexit

# ---- a back end's first start closes its pipe without READY ----
fake beclose xenstored ready
fake beclose consoled ready
fake beclose blkback close
start beclose
check "blkback's first start closes without READY: no READY" test -z "$LINE"
check "  xenon-hvd exits 1" exits 1
check "  logged" logged "blkback closed its readiness pipe without saying READY"
check "  every service stopped" none_left beclose

# ---- a restarted back end closes its pipe without READY ----
# The case the two copies disagreed on: it was ignored and left running.
fake reclose xenstored ready
fake reclose consoled ready
fake reclose blkback ready close ready
start reclose
check "restart: xenon-hvd ready" test "$LINE" = READY
B1=$(pid reclose blkback 1)
kill -9 "$B1"
check "restart: the killed blkback is restarted" until_ok 200 eval '[ "$(runs reclose blkback)" -ge 2 ]'
check "restart: its closing the pipe without READY is logged" \
	until_ok 200 logged "blkback closed its readiness pipe without saying READY"
check "restart: that run is stopped, not left running" until_ok 200 ended reclose blkback 2
check "restart: and another started" until_ok 200 eval 'alive "$(pid reclose blkback 3)"'
# Logged once the spawn returned: the new run may write its pid first.
check "restart: counted as restart 2" until_ok 200 logged "blkback restart 2/5: started"
check "restart: xenon-hvd keeps running" alive "$H"
kill -TERM "$H"
check "restart: SIGTERM, exit 0" exits 0
check "restart: nothing left" none_left reclose

# ---- the restart budget: every restart closes without READY ----
fake budget xenstored ready
fake budget consoled ready
fake budget blkback ready close
start budget
check "budget: xenon-hvd ready" test "$LINE" = READY
kill -9 "$(pid budget blkback 1)"
check "budget: given up after 5 restarts" \
	until_ok 200 logged "blkback restarted 5 times: not again"
check "budget: six runs in all" test "$(runs budget blkback)" = 6
check "budget: none of them left running" none_left budget blkback
check "budget: xenon-hvd keeps running" alive "$H"
kill -TERM "$H"
check "budget: SIGTERM, exit 0" exits 0

# ---- READY then exit at once: ready, then lost (whatever the event order) ----
fake rexit xenstored ready
fake rexit consoled ready
fake rexit blkback ready-exit ready
start rexit
check "READY then exit: xenon-hvd ready" test "$LINE" = READY
check "READY then exit: restarted, not a start-up failure" \
	until_ok 200 logged "blkback restart 1/5: started"
check "READY then exit: no start failure logged" eval '! logged "failed to start"'
kill -TERM "$H"
check "READY then exit: SIGTERM, exit 0" exits 0

# ---- xenstored dies after READY: not restarted, xenon-hvd keeps its domains ----
fake xsdies xenstored ready
fake xsdies consoled ready
fake xsdies blkback ready
start xsdies
check "xenstored dies: xenon-hvd ready" test "$LINE" = READY
kill -9 "$(pid xsdies xenstored 1)"
check "xenstored dies: logged" until_ok 200 logged "xenstored exited (wait status"
check "xenstored dies: not restarted" until_ok 200 logged "xenstored is not restarted"
check "xenstored dies: ran once" test "$(runs xsdies xenstored)" = 1
check "xenstored dies: xenon-hvd keeps running" alive "$H"
kill -9 "$(pid xsdies blkback 1)"
check "xenstored dies: a back end that dies then is not restarted, saying why" \
	until_ok 200 logged "blkback is not restarted: xenstored is gone"
check "  it ran once" test "$(runs xsdies blkback)" = 1
kill -TERM "$H"
check "xenstored dies: SIGTERM, exit 0" exits 0
check "xenstored dies: nothing left" none_left xsdies

# ---- a failed start being stopped does not hold the loop ----
# blkback's restart closes its pipe without READY and ignores SIGTERM: its
# stop takes the whole bound (5 s), then SIGKILL. Meanwhile LIST is answered.
fake deaf xenstored ready
fake deaf consoled ready
fake deaf blkback ready deaf ready
start deaf
check "deaf stop: xenon-hvd ready" test "$LINE" = READY
kill -9 "$(pid deaf blkback 1)"
check "deaf stop: the restart closes without READY" \
	until_ok 200 logged "blkback closed its readiness pipe without saying READY"
MS=$("$PROBE" "$T/deaf/run")
check "deaf stop: LIST answered meanwhile, in ${MS:-no} ms (< 2000)" test "${MS:-99999}" -lt 2000
check "deaf stop: ... while that run was still being stopped" alive "$(pid deaf blkback 2)"
check "deaf stop: SIGKILL once the bound is past" \
	until_ok 200 logged "blkback (pid $(pid deaf blkback 2)) still running 5000 ms after SIGTERM: SIGKILL"
check "deaf stop: that run ended" until_ok 200 ended deaf blkback 2
check "deaf stop: restarted again, counted as restart 2" \
	until_ok 200 logged "blkback restart 2/5: started"
check "deaf stop: the new run lives" until_ok 200 eval 'alive "$(pid deaf blkback 3)"'
kill -TERM "$H"
check "deaf stop: SIGTERM, exit 0" exits 0
check "deaf stop: nothing left" none_left deaf

# ---- SIGTERM while a failed start is being stopped: still bounded ----
fake deafterm xenstored ready
fake deafterm consoled ready
fake deafterm blkback ready deaf
start deafterm
check "SIGTERM mid-stop: xenon-hvd ready" test "$LINE" = READY
kill -9 "$(pid deafterm blkback 1)"
check "SIGTERM mid-stop: the restart closes without READY" \
	until_ok 200 logged "blkback closed its readiness pipe without saying READY"
kill -TERM "$H"
check "SIGTERM mid-stop: exit 0 within the bound" exits 0
check "SIGTERM mid-stop: nothing left" none_left deafterm
