#!/bin/bash
# xenon-monitor, the run dir's one remover of dead domains' store entries
# (tools/xenon/monitor.c), with the real toolstack and daemons in a private
# run dir. TAP.
#   xenon_monitor.sh XENON
#
#  1. One monitor, not one per domain: with three domains created there is
#     exactly one xenon-monitor, xenon-hvd's child, and no process left
#     behind by `xenon create'.
#  2. kill -9 of a domain: its entries (home, /tool/xenon/N, a back-end
#     directory) go, within a bounded wait; the other domains' stay, with
#     the tokens read before the kill.
#  3. The monitor killed (-9): xenon-hvd starts a new one, which covers the
#     domains created before it -- one that died while no monitor ran, and
#     one that dies after.
#  4. domid reuse: destroy and create again under the same domid, back to
#     back, five times: each creation records a new token and the live
#     instance's entries are never touched. This step cannot fail as
#     written: a monitor that removed by domid alone would pass it too.
#     `xenon destroy' removes the entries itself, and the window in which a
#     late removal could hit the new instance (between the monitor's LIST
#     and its removal) is never held open here. xenon_store_race.sh holds it
#     open (it stops xenstored and the monitor in it) and is the real guard.
#  5. A failed read is not lost: the monitor's read of a new domain's
#     instance fails (EIO, injected into its xs_read by a shim preloaded
#     into it alone, built here; skipped without a C compiler). With nothing
#     else tracked and no further event, it reads it again, bounded, and
#     tracks the domain.
#  6. `xenon down': the monitor goes with the daemons.
#  7. xenstored killed (-9), in a fresh run whose monitor is idle with an
#     empty table: the monitor notices (libxenstore's reader thread closes
#     the socket at EOF but never wakes the watch pipe), says so once and
#     exits 1. xenon-hvd (which keeps running: the store is not restarted)
#     does not restart it: a restart could only fail to connect.
# Bounded waits only; processes are found by pid (or by the tag every
# process of the run inherits); logs printed on failure.
set -u
XENON=$(realpath "$1")
D=$(mktemp -d "${TMPDIR:-/tmp}/xenon-monitor.XXXXXX")
RUN=$D/run
TAG="XENON_MONITOR_TAG=$D"
export XENON_RUN_DIR=$RUN XENSTORED_PATH=$RUN/xenstore/socket
. "$(dirname "$0")/../test_lib.sh"
UNTIL_STEP=0.1

count() { "$@" | wc -l; }
stopped() { [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = T ]; }
pid_of() {
	"$XENON" list --json | python3 -c "import json,sys; print([x['pid'] for x in json.load(sys.stdin) if x['domid']==$1][0])"
}
not_listed() { ! pid_of "$1" >/dev/null 2>&1; }
in_store() { xenstore-read "$1" >/dev/null 2>&1; }
absent() { ! in_store "$1"; }
token() { xenstore-read "/tool/xenon/$1/instance" 2>/dev/null; }
log_has() { grep -qF "$1" "$RUN/monitor.log" 2>/dev/null; }
hvd_log_has() { grep -qF "$1" "$RUN/hvd.log" 2>/dev/null; }
monitor_pid() { cat "$RUN/monitor.pid" 2>/dev/null; }
# A monitor other than $1 runs and has said it is ready.
new_monitor() {
	local p
	p=$(monitor_pid)
	[ -n "$p" ] && [ "$p" != "$1" ] && ! gone "$p" && log_has "ready (pid $p)"
}
# All of domain N's entries: home, /tool/xenon/N, the back-end directory.
entries_gone() { absent "/local/domain/$1" && absent "/tool/xenon/$1" && absent "$(be "$1")"; }
entries_of() { # N NAME TOKEN (TOKEN must not be empty)
	[ -n "$3" ] && [ "$(xenstore-read "/local/domain/$1/name" 2>&1)" = "$2" ] &&
		[ "$(token "$1")" = "$3" ] && [ "$(xenstore-read "$(be "$1")/0/mac" 2>&1)" = "$2" ]
}
be() { echo "/local/domain/0/backend/vif/$1"; }
# NAME DOMID: a running echo guest (found in the build tree), with a
# back-end directory. Tagged: a process `create' left behind would be seen.
create() {
	timeout 10 env "$TAG" "$XENON" create "$D/echo.cfg" "name=\"$1\"" "domid=$2" >/dev/null &&
		xenstore-write "$(be "$2")/0/mac" "$1"
}
tracks() { log_has "domain $1 ($2) instance $(token "$1"): tracking"; } # N NAME
removed() { log_has "domain $1 ($2) instance $3: store entries removed"; } # N NAME TOKEN
distinct() { [ "$(printf '%s\n' "$@" | sort -u | grep -c .)" = $# ]; } # non-empty, all different

# The shim for step 5: xs_read() of $SHIM_FAIL_PATH outside a transaction
# fails with EIO while the file $SHIM_FLAG exists; every read below
# /tool/xenon/ is logged to $SHIM_LOG (a sync point for the test).
build_shim() {
	command -v cc >/dev/null || return 1
	cat >"$D/shim.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef void *(*xs_read_fn)(void *, unsigned int, const char *, unsigned int *);

void *xs_read(void *h, unsigned int t, const char *path, unsigned int *len)
{
	xs_read_fn real = (xs_read_fn)dlsym(RTLD_NEXT, "xs_read");
	const char *fail = getenv("SHIM_FAIL_PATH"), *flag = getenv("SHIM_FLAG");
	const char *log = getenv("SHIM_LOG");
	int fd;

	if (t || strncmp(path, "/tool/xenon/", 12))
		return real(h, t, path, len);
	if (log && (fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) >= 0) {
		dprintf(fd, "%s\n", path);
		close(fd);
	}
	if (fail && flag && !strcmp(path, fail) && !access(flag, F_OK)) {
		errno = EIO;
		return NULL;
	}
	return real(h, t, path, len);
}
EOF
	cc -shared -fPIC -o "$D/shim.so" "$D/shim.c" -ldl 2>"$D/shim.err" || return 1
	local bin
	bin=$(dirname "$XENON")
	# xenon up runs $XENON_HVD: xenon-hvd, told to run the monitor through
	# a wrapper that preloads the shim (ASan's order check relaxed for it).
	printf '#!/bin/sh\nexec "%s" "$@" --monitor "%s"\n' \
		"$bin/../../dom0/hvd/xenon-hvd" "$D/monitor-wrap" >"$D/hvd-wrap"
	printf '#!/bin/sh\nexport LD_PRELOAD="%s${LD_PRELOAD:+:$LD_PRELOAD}" %s %s %s %s\nexec "%s" "$@"\n' \
		"$D/shim.so" 'ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"' \
		"SHIM_FAIL_PATH=/tool/xenon/9/instance" "SHIM_FLAG=$D/fail-read" \
		"SHIM_LOG=$D/shim.log" "$bin/xenon-monitor" >"$D/monitor-wrap"
	chmod +x "$D/hvd-wrap" "$D/monitor-wrap"
}
shim_read() { grep -qxF "/tool/xenon/$1/instance" "$D/shim.log" 2>/dev/null; }
up() {
	if [ -n "$SHIM" ]; then
		timeout 30 env "$TAG" XENON_HVD="$D/hvd-wrap" "$XENON" up
	else
		timeout 30 env "$TAG" "$XENON" up
	fi
}

finish() {
	timeout 30 "$XENON" down >/dev/null 2>&1
	kill_tagged
	tap_finish "$D" "$RUN"/monitor.log "$RUN"/hvd.log "$RUN"/xenstore/xenstored.log
}
trap 'finish; exit $?' EXIT

printf 'name = "m"\nkernel = "echo"\nmemory = 4\n' >"$D/echo.cfg"
SHIM=
build_shim && SHIM=1
check "xenon up" quiet up
HVD=$(cat "$RUN/hvd.pid" 2>/dev/null)
[ -n "$HVD" ] || { echo "Bail out! no xenon-hvd pid"; exit 1; }

# ---- 1. one monitor for the run dir ----
check "create m1, m2, m3" eval 'create m1 1 && create m2 2 && create m3 3'
check "the monitor tracks all three" until_ok 100 eval 'tracks 1 m1 && tracks 2 m2 && tracks 3 m3'
T1=$(token 1) T2=$(token 2) T3=$(token 3)
check "  their instance tokens are recorded, all different" distinct "$T1" "$T2" "$T3"
M=$(monitor_pid)
check "exactly one xenon-monitor ($(live_tagged xenon-monitor | tr '\n' ' '))" \
	test "$(count live_tagged xenon-monitor)" = 1
check "  it is the one in monitor.pid, xenon-hvd's child" \
	eval '[ "$(live_tagged xenon-monitor)" = "$M" ] && [ "$(ppid_of "$M")" = "$HVD" ]'
check "no process left by \`xenon create' (a monitor forked per domain)" \
	test "$(count live_tagged xenon)" = 0

# ---- 2. kill -9 of a domain ----
kill -9 "$(pid_of 2)"
check "kill -9 m2: it leaves xenon list" until_ok 100 not_listed 2
check "  its home, /tool/xenon/2 and back-end directory go" until_ok 100 entries_gone 2
check "  the monitor says so (domid, name, instance)" until_ok 50 removed 2 m2 "$T2"
check "  m1's and m3's entries stay (the tokens read before the kill)" \
	eval 'entries_of 1 m1 "$T1" && entries_of 3 m3 "$T3"'

# ---- 3. the monitor killed: xenon-hvd starts another ----
# m1 dies while no monitor runs: the stopped one cannot act, then is killed.
kill -STOP "$M"
check "the monitor is stopped" until_ok 50 stopped "$M"
kill -9 "$(pid_of 1)"
check "m1 killed while the monitor is stopped: it leaves xenon list" until_ok 100 not_listed 1
check "  its entries are still there" test "$(token 1)" = "$T1"
kill -9 "$M"
check "kill -9 the monitor: xenon-hvd starts a new one" until_ok 100 new_monitor "$M"
M2=$(monitor_pid)
check "  xenon-hvd's child ($M2)" test "$(ppid_of "$M2")" = "$HVD"
check "  it removes the entries of m1, dead before it started" until_ok 100 entries_gone 1
# Its name went with its home (xenstored removes it on the release).
check "  and says so" until_ok 50 removed 1 "?" "$T1"
check "  it tracks m3, created before it started" until_ok 50 tracks 3 m3
kill -9 "$(pid_of 3)"
check "m3 killed: the new monitor removes its entries" until_ok 100 entries_gone 3
check "  and says so" until_ok 50 removed 3 m3 "$T3"
check "still one xenon-monitor" test "$(count live_tagged xenon-monitor)" = 1

# ---- 4. domid reuse (see the top: xenon_store_race.sh is the guard) ----
create r 7
check "r created as domain 7" until_ok 50 tracks 7 r
TR=$(token 7)
ok_reuse=1
for i in 1 2 3 4 5; do
	prev=$TR
	timeout 10 "$XENON" destroy 7 >/dev/null && create r 7 || ok_reuse=0
	TR=$(token 7)
	distinct "$prev" "$TR" && entries_of 7 r "$TR" || ok_reuse=0
done
check "destroy + create as domain 7, five times, back to back: a new token each time" \
	test "$ok_reuse" = 1
# A sync point: the monitor handles events in order, so once it removed a
# domain killed after the last re-creation, it has done all it would do
# about domain 7's earlier instances.
create s 8
check "  s (domain 8) created" until_ok 50 tracks 8 s
T8=$(token 8)
kill -9 "$(pid_of 8)"
check "  s killed, its entries removed by the monitor" until_ok 100 removed 8 s "$T8"
check "  domain 7's live instance keeps its home, token and back-end directory" \
	entries_of 7 r "$TR"
check "  the monitor never took the live instance for gone" \
	eval '! grep -F "instance $TR:" "$RUN/monitor.log" | grep -qE "gone|removed"'
check "  r still runs" test -n "$(pid_of 7 2>/dev/null)"

# ---- 5. a failed read is not lost ----
if [ -n "$SHIM" ]; then
	timeout 10 "$XENON" destroy 7 >/dev/null
	touch "$D/fail-read"
	create f 9
	# Sync: the monitor reads /tool/xenon/N in the order of the changes,
	# so once it read 10's, it has handled every event of f's creation.
	xenstore-write /tool/xenon/10/sync 1
	check "f created as domain 9; the monitor's reads of its instance fail (EIO)" \
		until_ok 100 eval 'shim_read 10 && shim_read 9 &&
			log_has "domain 9: reading its instance: Input/output error"'
	check "  f is not tracked yet" eval '! tracks 9 f'
	rm -f "$D/fail-read"
	check "  reads work again: with nothing else tracked and no event, it is tracked" \
		until_ok 50 tracks 9 f
	T9=$(token 9)
	kill -9 "$(pid_of 9)"
	check "  f killed: the monitor removes its entries" \
		until_ok 100 eval 'entries_gone 9 && removed 9 f "$T9"'
	xenstore-rm /tool/xenon/10
else
	ok "a failed read is not lost # SKIP no C compiler for the xs_read shim"
fi

# ---- 6. xenon down ----
M=$(monitor_pid)
check "xenon down" quiet timeout 30 "$XENON" down
check "the monitor (pid $M) is gone" until_ok 100 gone "$M"
check "no xenon-monitor of this run left" test "$(count live_tagged xenon-monitor)" = 0
check "its pid file is removed" test ! -e "$RUN/monitor.pid"

# ---- 7. xenstored killed, the monitor idle with an empty table ----
RUN=$D/run2
export XENON_RUN_DIR=$RUN XENSTORED_PATH=$RUN/xenstore/socket
check "xenon up (a fresh run dir)" quiet up
HVD=$(cat "$RUN/hvd.pid" 2>/dev/null)
M=$(monitor_pid)
XSD=$(cat "$RUN/xenstore/xenstored.pid" 2>/dev/null)
check "  its monitor is ready" eval '[ -n "$M" ] && [ -n "$XSD" ] && log_has "ready (pid $M)"'
kill -9 "$XSD"
check "kill -9 xenstored: the monitor (pid $M) exits" until_ok 100 gone "$M"
check "  it says why, once" test "$(grep -cF "xenstored connection lost (closed)" "$RUN/monitor.log")" = 1
check "  with status 1" eval 'grep -m1 -F "monitor exited" "$RUN/hvd.log" | grep -qF "(wait status 0x100)"'
check "  xenon-hvd does not restart it: no store" \
	until_ok 100 hvd_log_has "monitor is not restarted: xenstored is gone"
check "  no xenon-monitor of this run left" until_ok 50 eval \
	'[ "$(count live_tagged xenon-monitor)" = 0 ]'
# xenon-hvd logs starts only with -v: a second start would show in the
# monitor's own log (ready, or its start-up failing) or as a restart line.
check "  it was started once" eval \
	'[ "$(grep -cF "ready (pid " "$RUN/monitor.log")" = 1 ] &&
	! grep -qF "start-up failed" "$RUN/monitor.log" && ! hvd_log_has "monitor restart "'
check "  xenon-hvd runs on" eval '! gone "$HVD"'
