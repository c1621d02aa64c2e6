#!/bin/bash
# The standby (substrate/proc/procdom_spawner.h) end to end under xenon-hvd,
# in private run dirs. TAP.
#   proc_standby.sh XENON_CLI GUESTS_DIR XENON_HVD STANDBY_GUEST
#
# After a domain's program started, the spawner starts it once more ahead
# of time: a standby, xenon-hvd's child, shown by ps as the program (its
# argv) and named xenon-standby while it waits. Checked: the next domain of
# that program is that process (LIST's pid) and sees exactly what a cold
# start sees (STANDBY_GUEST prints its argv, environment, comm, group,
# signals and fds); another standby follows; a different program, or the
# same path touched or replaced, gets a fresh process running the file as
# it is now, the stale standby reaped; a standby killed while waiting is
# reaped (no zombie) and not restarted before the next creation, which
# works; a program that cannot be a standby loses it after two tries,
# logged once; `xenon down`, SIGTERM and SIGKILL of xenon-hvd leave no
# standby; --no-standby makes none and creation works.
set -u
PROC_NAME=proc-standby
# until_ok, gone (its check() is proc_lib's, sourced after)
. "$(dirname "$0")/../test_lib.sh"
. "$(dirname "$0")/proc_lib.sh" "$1" "$2"
HVD_BIN=$(realpath "$3")
SG=$(realpath "$4")
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
# A standby of xenon-hvd $1 that waits for its domain: named xenon-standby,
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

# ---- used: the second domain of a program is its standby -------------------
up main -v
HVD=$(cat "$RD/hvd.pid")
t "no standby before any domain" no_standby "$HVD"
cfg g1.cfg g1 1 "$SG"
cfg g2.cfg g2 2 "$SG"
t "create a first domain (cold)" create g1.cfg
wait_log "$RD/domain-1.log" "view: done"
SB1=$(wait_standby "$HVD")
t "then a standby of its program waits" test -n "$SB1"
t "  ... shown by ps as the program (its argv)" test "$(cmdline "${SB1:-0}")" = "$SG "
t "  ... xenon-hvd's child, leading its own group" \
	test "$(ps -o ppid=,pgid= -p "${SB1:-0}" | awk '{ print $1, $2 }')" = "$HVD ${SB1:-0}"
t "create a second domain of it" create g2.cfg
wait_log "$RD/domain-2.log" "view: done"
P2=$(pid_of 2 2>/dev/null)
t "  ... it is the standby (LIST's pid)" test -n "$SB1" -a "$P2" = "$SB1"
t "  ... it sees what the cold start saw" diff <(views 1) <(views 2)
diff <(views 1) <(views 2) | sed 's/^/# /'
t "  ... it is listed with its name from the store" eval '"$X" $R list | grep -qw g2'
want="0:/dev/null 1:domain-2.log 2:domain-2.log 3:/memfd:xenon-ram (deleted) 4:/memfd:xenon-evt (deleted) 5:/memfd:xenon-xen (deleted) 6:socket "
t "  ... it holds exactly its own fds" test "$(fds_of "${P2:-0}")" = "$want"
t "  ... its comm is the program's again" test "$(cat "/proc/${P2:-0}/comm")" = standby-guest
SB2=$(wait_standby "$HVD")
t "another standby follows" test -n "$SB2" -a "$SB2" != "$SB1"

# ---- not used: another program, the file touched or replaced ----------------
cfg p3.cfg p3 3 "$G/pingpong" "pingpong.port=10 pingpong.n=1000000"
t "a domain of another program" create p3.cfg
P3=$(pid_of 3 2>/dev/null)
t "  ... is a fresh process" test -n "$P3" -a "$P3" != "$SB2"
t "  ... the stale standby is reaped" until_ok 100 reaped "${SB2:-0}"
SB3=$(wait_standby "$HVD")
t "  ... and the new program's standby waits" test "$(cmdline "${SB3:-0}")" = "$G/pingpong "

cp "$SG" "$D/prog"
cfg q4.cfg q4 4 "$D/prog"
cfg q5.cfg q5 5 "$D/prog"
cfg q6.cfg q6 6 "$D/prog"
t "a domain of a private copy" create q4.cfg
wait_log "$RD/domain-4.log" "view: done"
SB4=$(wait_standby "$HVD")
t "  ... its standby waits" test "$(cmdline "${SB4:-0}")" = "$D/prog "
sleep 0.02 # a new mtime
touch "$D/prog"
t "the copy touched, a domain of it" create q5.cfg
wait_log "$RD/domain-5.log" "view: done"
P5=$(pid_of 5 2>/dev/null)
t "  ... is a fresh process" test -n "$P5" -a "$P5" != "$SB4"
t "  ... the stale standby is reaped" until_ok 100 reaped "${SB4:-0}"
SB5=$(wait_standby "$HVD")
cp "$G/hello" "$D/prog.new"
mv "$D/prog.new" "$D/prog"
t "the copy replaced by another program, a domain of it" create q6.cfg
wait_log "$RD/domain-6.log" "hello from"
t "  ... runs the new file" grep -q "hello from domain 6" "$RD/domain-6.log"
t "  ... and nothing of the old one" eval '! grep -q "^view:" "$RD/domain-6.log"'
t "  ... the stale standby is reaped" until_ok 100 reaped "${SB5:-0}"

# ---- killed while waiting ------------------------------------------------------
SB6=$(wait_standby "$HVD")
t "a standby of the new file waits" test -n "$SB6"
kill -9 "${SB6:-0}"
t "killed, it is reaped (no zombie)" until_ok 100 reaped "${SB6:-0}"
t "  ... logged" wait_log "$RD/hvd.log" "standby of $D/prog (pid $SB6) died unused"
t "  ... and not restarted before the next creation" no_standby "$HVD"
cfg g7.cfg g7 7 "$SG"
t "the next creation works" create g7.cfg
t "  ... its guest runs" wait_log "$RD/domain-7.log" "view: done"
SB7=$(wait_standby "$HVD")
t "  ... and a standby is back" test -n "$SB7"

# ---- a program that cannot be a standby -------------------------------------------
printf '#!/bin/sh\nexit 0\n' >"$D/quits"
chmod +x "$D/quits"
for i in 8 9 10 11; do
	cfg q$i.cfg q$i $i "$D/quits"
	create q$i.cfg
	until_ok 100 eval '! "$X" $R list | grep -qw q$i'
	until_ok 100 eval '[ -z "$(pgrep -P "$HVD" -f "$D/quits")" ]'
done
t "a program whose standby dies at once loses it, logged once" \
	test "$(grep -c "$D/quits: its standby died unused twice in a row" "$RD/hvd.log")" = 1
t "  ... and none is started after that (two standbys in all)" \
	test "$(grep -F "$D/quits" "$RD/hvd.log" | grep -c standby)" = 2
t "  ... no zombie child of xenon-hvd" no_zombie "$HVD"

# ---- down --------------------------------------------------------------------------
cfg g12.cfg g12 12 "$SG"
create g12.cfg
SB12=$(wait_standby "$HVD")
t "before down, a standby waits" test -n "$SB12"
down
R=
t "xenon down: no standby left" until_ok 100 gone "${SB12:-0}"

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
	t "SIG$sig of xenon-hvd with a standby waiting" test -n "$SB"
	kill -$sig "$H"
	wait "$H" 2>/dev/null
	H=
	t "  ... no standby left" until_ok 100 gone "${SB:-0}"
	R=
done

hvd nostandby --no-standby
cfg n1.cfg n1 1 "$SG"
cfg n2.cfg n2 2 "$SG"
t "--no-standby: create a domain" create n1.cfg
t "  ... its guest runs" wait_log "$RD/domain-1.log" "view: done"
t "  ... no standby is started" no_standby "$H"
t "  ... a second domain of the program" create n2.cfg
t "  ... its guest runs" wait_log "$RD/domain-2.log" "view: done"
t "  ... still no standby" no_standby "$H"
t "  ... the log says the spawner has none" \
	eval 'grep "spawner started" "$RD/hvd.log" | grep -vq "with a standby"'
kill -TERM "$H"
wait "$H" 2>/dev/null
H=
R=
echo "1..$N"
exit $fail
