#!/bin/bash
# The template (substrate/proc/procdom_spawner.h) end to end under
# xenon-hvd, in private run dirs. TAP.
#   proc_standby.sh XENON_CLI GUESTS_DIR XENON_HVD STANDBY_GUEST SANITY_GUEST CLONE_STOP
#
# After a domain's program started, the spawner starts it once more ahead
# of time: a template, xenon-hvd's child, shown by ps as the program (its
# argv) and named xenon-standby while it waits. Checked: the next domains
# of that program are each a new child the template made (LIST's pid:
# each different, each xenon-hvd's child, each booting and answering, each
# exec'd as the template: XENON_STANDBY in its /proc/PID/environ) and
# see exactly what a cold start sees (STANDBY_GUEST prints its argv,
# environment, comm, group, signals and fds), while the template stays;
# such a child is a sane glibc process (SANITY_GUEST: its tid as glibc
# holds it, its robust list, a thread, raise, abort seen by xenon-hvd as
# SIGABRT); a different program, or the same path touched or replaced,
# gets a fresh process running the file as it is now, the stale template
# reaped and a new one made; a template killed while waiting is reaped
# (no zombie) and not restarted before the next creation, which starts
# cold; one killed between its clone and its answer (CLONE_STOP, ptrace):
# that creation fails, the child nobody was told of is killed and reaped,
# the dom0 services live on (none killed, none restarted), the next
# creation works (those checks are skipped where ptrace is not allowed:
# CLONE_STOP exits 77); a program that
# cannot be a template loses it after two tries, logged once; `xenon
# down`, SIGTERM and SIGKILL of xenon-hvd leave no template; --no-standby
# makes none and creation works.
set -u
PROC_NAME=proc-standby
# until_ok, gone (its check() is proc_lib's, sourced after)
. "$(dirname "$0")/../test_lib.sh"
. "$(dirname "$0")/proc_lib.sh" "$1" "$2"
HVD_BIN=$(realpath "$3")
SG=$(realpath "$4")
SANE=$(realpath "$5")
CLONE_STOP=$(realpath "$6")
H=
trap '[ -n "$H" ] && kill -9 "$H" 2>/dev/null; cleanup' EXIT
t() { # description, command...
	local d=$1
	shift
	N=$((N + 1))
	if "$@"; then echo "ok $N - $d"; else echo "not ok $N - $d"; fail=1; fi
}
cfg() { # file name domid kernel [extra]
	printf 'name = "%s"\ntype = "process"\nkernel = "%s"\nmemory = 4\nvcpus = 1\ndomid = %s\nextra = "%s"\n' \
		"$2" "$4" "$3" "${5:-}" >"$D/$1"
}
create() { timeout 10 "$X" $R create "$D/$1" >/dev/null 2>&1; }
# A template of xenon-hvd $1 that waits for a request: named xenon-standby,
# blocked in recvmsg (47), which it enters once it has said ready.
standby_of() {
	local p sc
	for p in $(pgrep -P "$1"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = xenon-standby ] || continue
		read -r sc _ <"/proc/$p/syscall" 2>/dev/null || continue
		[ "$sc" = 47 ] && echo "$p"
	done
}
# Until one waits (10 s at most): its pid, or nothing.
wait_standby() {
	local s= hv=$1
	until_ok 200 eval 's=$(standby_of "$hv"); [ -n "$s" ]'
	echo "$s"
}
# No standby for 0.5 s (what "not started" can mean from outside).
no_standby() {
	local i
	for ((i = 0; i < 10; i++)); do
		[ -z "$(pgrep -P "$1" -x xenon-standby)" ] || return 1
		sleep 0.05
	done
}
# Gone from /proc altogether: reaped, not a zombie.
reaped() { [ ! -e "/proc/$1" ]; }
pid_of() { # domid
	"$X" $R list --json | python3 -c \
		"import json,sys; print([x['pid'] for x in json.load(sys.stdin) if x['domid']==$1][0])"
}
cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null; }
fds_of() { # pid: "fd:target" per fd, sorted by fd
	local f
	for f in /proc/$1/fd/*; do
		echo "${f##*/}:$(readlink "$f")"
	done | sort -n | sed 's/socket:.*/socket/; s|^\([12]\):.*/\(domain-[0-9]*\.log\)$|\1:\2|' | tr '\n' ' '
}
views() { grep '^view:' "$RD/domain-$1.log"; }
no_zombie() { ! ps -o stat= --ppid "$1" | grep -q Z; }

# ---- used: every next domain of a program is a child of its template -------
up main -v
HVD=$(cat "$RD/hvd.pid")
t "no template before any domain" no_standby "$HVD"
cfg g1.cfg g1 1 "$SG"
t "create a first domain (cold)" create g1.cfg
wait_log "$RD/domain-1.log" "view: done"
SB1=$(wait_standby "$HVD")
t "then a template of its program waits" test -n "$SB1"
t "  ... shown by ps as the program (its argv)" test "$(cmdline "${SB1:-0}")" = "$SG "
t "  ... xenon-hvd's child, leading its own group" \
	test "$(ps -o ppid=,pgid= -p "${SB1:-0}" | awk '{ print $1, $2 }')" = "$HVD ${SB1:-0}"
PIDS=
for i in 41 42 43 44 45; do
	cfg g$i.cfg g$i $i "$SG"
	create g$i.cfg || echo "# create g$i failed"
	wait_log "$RD/domain-$i.log" "view: done"
	PIDS="$PIDS $(pid_of $i 2>/dev/null)"
done
n_distinct() { tr ' ' '\n' <<<"$PIDS" | grep -v '^$' | sort -u | wc -l; }
t "five more domains, back to back, each its own process" test "$(n_distinct)" = 5
t "  ... none of them the template" eval '! grep -qw "${SB1:-0}" <<<"$PIDS"'
hvd_children() { for p in $PIDS; do [ "$(ppid_of "$p")" = "$HVD" ] || return 1; done; }
t "  ... each xenon-hvd's child" hvd_children
# /proc/PID/environ is fixed at the exec: a template's child shows the
# template's XENON_STANDBY, a cold start XENON_BOOT (a template never used
# would pass every other check here).
forked() { tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | grep -q '^XENON_STANDBY=.*fork=1'; }
all_forked() { for p in $PIDS; do forked "$p" || return 1; done; }
t "  ... each made by the template (its exec-time environment)" all_forked
t "  ... each booted and answers (listed with its name from the store)" \
	eval 'for i in 41 42 43 44 45; do "$X" $R list | grep -qw g$i || exit 1; done'
all_seen() { for i in 41 42 43 44 45; do diff -q <(views 1) <(views $i) >/dev/null || return 1; done; }
t "  ... each sees what the cold start saw" all_seen
diff <(views 1) <(views 41) | sed 's/^/# /'
P2=$(pid_of 41 2>/dev/null)
want="0:/dev/null 1:domain-41.log 2:domain-41.log 3:/memfd:xenon-ram (deleted) 4:/memfd:xenon-evt (deleted) 5:/memfd:xenon-xen (deleted) 6:socket "
t "  ... holds exactly its own fds" test "$(fds_of "${P2:-0}")" = "$want"
t "  ... its comm is the program's" test "$(cat "/proc/${P2:-0}/comm")" = standby-guest
t "the same template still waits" test "$(wait_standby "$HVD")" = "$SB1"
t "  ... holding nothing of the domains" \
	test "$(fds_of "${SB1:-0}")" = "0:/dev/null 1:/dev/null 2:/dev/null 67:socket "
SB2=$SB1

# ---- a child of a template is a sane glibc process --------------------------------
cfg s20.cfg s20 20 "$SANE"
cfg s21.cfg s21 21 "$SANE"
sane() { # domid: every check ok
	[ "$(grep -c '^sane: .* ok (' "$RD/domain-$1.log")" = 7 ] &&
		! grep -q FAILED "$RD/domain-$1.log"
}
create s20.cfg
t "a domain of the sanity guest (cold)" wait_log "$RD/domain-20.log" "sane: abort"
t "  ... sane" sane 20
t "  ... started cold" grep -q "started as a template: no" "$RD/domain-20.log"
SB20=$(wait_standby "$HVD")
t "  ... and its template waits" test "$(cmdline "${SB20:-0}")" = "$SANE "
create s21.cfg
t "a domain of it made by the template" wait_log "$RD/domain-21.log" "sane: abort"
t "  ... was the template's child" grep -q "started as a template: yes" "$RD/domain-21.log"
t "  ... sane: glibc's tid, robust list, a thread, raise" sane 21
grep '^sane:' "$RD/domain-21.log" | sed 's/^/# /'
t "  ... its abort() is SIGABRT in xenon-hvd's wait status" \
	wait_log "$RD/hvd.log" "d21: process died (wait status 0x8\?6)"
t "  ... and the template stays" test "$(wait_standby "$HVD")" = "$SB20"
SB2=$SB20

# ---- not used: another program, the file touched or replaced ----------------
cfg p3.cfg p3 3 "$G/pingpong" "pingpong.port=10 pingpong.n=1000000"
t "a domain of another program" create p3.cfg
P3=$(pid_of 3 2>/dev/null)
t "  ... is a fresh process" test -n "$P3" -a "$P3" != "$SB2"
t "  ... the stale template is reaped" until_ok 100 reaped "${SB2:-0}"
SB3=$(wait_standby "$HVD")
t "  ... and the new program's template waits" test "$(cmdline "${SB3:-0}")" = "$G/pingpong "

cp "$SG" "$D/prog"
cfg q4.cfg q4 4 "$D/prog"
cfg q5.cfg q5 5 "$D/prog"
cfg q6.cfg q6 6 "$D/prog"
t "a domain of a private copy" create q4.cfg
wait_log "$RD/domain-4.log" "view: done"
SB4=$(wait_standby "$HVD")
t "  ... its template waits" test "$(cmdline "${SB4:-0}")" = "$D/prog "
touch -d '2001-01-01 00:00:00' "$D/prog" # a new mtime, whatever the clock's grain
t "the copy touched, a domain of it" create q5.cfg
wait_log "$RD/domain-5.log" "view: done"
P5=$(pid_of 5 2>/dev/null)
t "  ... is a fresh process" test -n "$P5" -a "$P5" != "$SB4"
t "  ... the stale template is reaped" until_ok 100 reaped "${SB4:-0}"
SB5=$(wait_standby "$HVD")
cp "$G/hello" "$D/prog.new"
mv "$D/prog.new" "$D/prog"
t "the copy replaced by another program, a domain of it" create q6.cfg
wait_log "$RD/domain-6.log" "hello from"
t "  ... runs the new file" grep -q "hello from domain 6" "$RD/domain-6.log"
t "  ... and nothing of the old one" eval '! grep -q "^view:" "$RD/domain-6.log"'
t "  ... the stale template is reaped" until_ok 100 reaped "${SB5:-0}"

# ---- killed while waiting ------------------------------------------------------
SB6=$(wait_standby "$HVD")
t "a template of the new file waits" test -n "$SB6"
kill -9 "${SB6:-0}"
t "killed, it is reaped (no zombie)" until_ok 100 reaped "${SB6:-0}"
t "  ... logged" wait_log "$RD/hvd.log" "standby of $D/prog (pid $SB6) died unused"
t "  ... and not restarted before the next creation" no_standby "$HVD"
cfg g7.cfg g7 7 "$SG"
t "the next creation works" create g7.cfg
t "  ... its guest runs" wait_log "$RD/domain-7.log" "view: done"
P7=$(pid_of 7 2>/dev/null)
t "  ... started cold" eval '! tr "\0" "\n" </proc/${P7:-0}/environ | grep -q "^XENON_STANDBY="'
SB7=$(wait_standby "$HVD")
t "  ... and a template is back" test -n "$SB7"

# ---- killed between its clone and its answer (the crash window) -------------------
services() { ps -o pid=,comm= --ppid "$HVD" | grep -E 'xenon-(xenstored|consoled|blkback|monitor)$' | sort; }
SVC=$(services)
# The domains made above (g41..g45) still run (they block after "view:
# done"): the sweep must know their processes as the domains' own.
live_of() { for p in $1; do gone "$p" || echo "$p"; done | tr '\n' ' '; }
LIVE=$(live_of "$PIDS")
mkfifo "$D/cs.out"
"$CLONE_STOP" "${SB7:-0}" >"$D/cs.out" 2>"$D/cs.err" &
CS=$!
exec 5<"$D/cs.out"
line=
read -r -t 10 line <&5
if [ "$line" = seized ]; then
	t "clone-stop holds the template (ptrace)" true
	cfg c30.cfg c30 30 "$SG"
	t "a creation whose template is killed between its clone and its answer fails" \
		eval '! create c30.cfg'
	ORPHAN=
	read -r -t 10 ORPHAN <&5
	exec 5<&-
	wait $CS
	t "  ... the template had made the domain's child" test -n "$ORPHAN"
	t "  ... that child nobody was told of is killed and reaped" until_ok 200 reaped "${ORPHAN:-0}"
	t "  ... logged" wait_log "$RD/hvd.log" "nobody was told of"
	t "  ... the failed domain is gone" eval '! "$X" $R list | grep -qw c30'
	t "  ... no zombie child of xenon-hvd" until_ok 100 no_zombie "$HVD"
	# After the wait for zombies: a service killed by the sweep and not
	# reaped yet would still be listed before it.
	t "  ... the dom0 services live on" test "$(services)" = "$SVC"
	t "  ... and so do the five domains' processes (known to the sweep)" \
		eval '[ "$(echo $LIVE | wc -w)" = 5 ] && [ "$LIVE" = "$(live_of "$PIDS")" ]'
	t "  ... none of them restarted" eval '! grep -Eq "(xenstored|consoled|blkback|monitor) (restart [0-9]|exited)" "$RD/hvd.log"'
else
	exec 5<&-
	wait $CS
	rc=$?
	sed 's/^/# /' "$D/cs.err"
	if [ $rc = 77 ]; then
		for c in "clone-stop holds the template (ptrace)" \
			"a creation whose template is killed between its clone and its answer fails" \
			"  ... the template had made the domain's child" \
			"  ... that child nobody was told of is killed and reaped" "  ... logged" \
			"  ... the failed domain is gone" "  ... no zombie child of xenon-hvd" \
			"  ... the dom0 services live on" \
			"  ... and so do the five domains' processes (known to the sweep)" \
			"  ... none of them restarted"; do
			N=$((N + 1))
			echo "ok $N - $c # SKIP ptrace unavailable"
		done
	else
		t "clone-stop holds the template (ptrace; status $rc)" false
	fi
fi
cfg c31.cfg c31 31 "$SG"
t "the next creation works" create c31.cfg
t "  ... its guest runs" wait_log "$RD/domain-31.log" "view: done"
t "  ... and a template follows" test -n "$(wait_standby "$HVD")"

# ---- a program that cannot be a template ------------------------------------------
printf '#!/bin/sh\nexit 0\n' >"$D/quits"
chmod +x "$D/quits"
for i in 8 9 10 11; do
	cfg q$i.cfg q$i $i "$D/quits"
	create q$i.cfg
	until_ok 100 eval '! "$X" $R list | grep -qw q$i'
	until_ok 100 eval '[ -z "$(pgrep -P "$HVD" -f "$D/quits")" ]'
done
t "a program whose template dies at once loses it, logged once" \
	test "$(grep -c "$D/quits: its standby died unused twice in a row" "$RD/hvd.log")" = 1
t "  ... and none is started after that (two templates in all)" \
	test "$(grep -F "$D/quits" "$RD/hvd.log" | grep -c standby)" = 2
t "  ... no zombie child of xenon-hvd" no_zombie "$HVD"

# ---- down --------------------------------------------------------------------------
cfg g12.cfg g12 12 "$SG"
create g12.cfg
SB12=$(wait_standby "$HVD")
t "before down, a template waits" test -n "$SB12"
down
R=
t "xenon down: no template left" until_ok 100 gone "${SB12:-0}"

# ---- xenon-hvd itself: SIGTERM, SIGKILL, --no-standby --------------------------------
hvd() { # part, options...: xenon-hvd in the foreground of this script
	local part=$1 line=
	shift
	RD=$D/$part
	R="--run-dir $RD"
	mkfifo "$D/$part.ready"
	"$HVD_BIN" --run-dir "$RD" --ready-fd 3 -v "$@" 3>"$D/$part.ready" 2>"$D/$part.stderr" &
	H=$!
	read -r -t 20 line <"$D/$part.ready"
	[ "${line:-}" = READY ] || { echo "Bail out! xenon-hvd did not become ready"; exit 1; }
}
for sig in TERM KILL; do
	hvd "sig$sig"
	cfg s$sig.cfg s$sig 1 "$SG"
	create s$sig.cfg
	SB=$(wait_standby "$H")
	t "SIG$sig of xenon-hvd with a template waiting" test -n "$SB"
	kill -$sig "$H"
	wait "$H" 2>/dev/null
	H=
	t "  ... no template left" until_ok 100 gone "${SB:-0}"
	R=
done

hvd nostandby --no-standby
cfg n1.cfg n1 1 "$SG"
cfg n2.cfg n2 2 "$SG"
t "--no-standby: create a domain" create n1.cfg
t "  ... its guest runs" wait_log "$RD/domain-1.log" "view: done"
t "  ... no template is started" no_standby "$H"
t "  ... a second domain of the program" create n2.cfg
t "  ... its guest runs" wait_log "$RD/domain-2.log" "view: done"
t "  ... still no template" no_standby "$H"
t "  ... the log says the spawner has none" \
	eval 'grep "spawner started" "$RD/hvd.log" | grep -vq "with a standby"'
kill -TERM "$H"
wait "$H" 2>/dev/null
H=
R=
echo "1..$N"
exit $fail
