#!/bin/bash
# xenon-hvd end to end without a guest runtime: control protocol, dom0
# hypercalls and events, foreign mapping, a raw protocol guest killed with
# -9, no fd or mapping leaked, clean SIGTERM. TAP.
#   hvd_control.sh XENON_HVD HVD_SELFTEST HVD_RAWGUEST GUEST_HELLO
# GUEST_HELLO (examples/guests/hello, runtime + guest library) boots and
# powers off; its checks are skipped if it is not built.
set -u
HVD=$(realpath "$1") SELFTEST=$(realpath "$2") RAWGUEST=$(realpath "$3") GUEST=$(realpath -m "$4")
T=$(mktemp -d /tmp/hvd-test.XXXXXX)
RUN=$T/run
PID=
n=0 fail=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=$((fail + 1)); fi; }
cleanup() {
	[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
	if [ $fail -ne 0 ]; then
		for f in "$RUN"/*.log "$RUN"/xenstore/*.log; do [ -f "$f" ] && sed "s|^|# $(basename "$f"): |" "$f"; done
	fi
	rm -rf "$T"
}
trap cleanup EXIT

mkfifo "$T/ready"
"$HVD" --run-dir "$RUN" --ready-fd 3 -vv 3>"$T/ready" &
PID=$!
read -r -t 20 line <"$T/ready"
ok $([ "$line" = READY ] && echo 0 || echo 1) "xenon-hvd signals readiness"
ok $([ "$(stat -c %a "$RUN/hvd.sock")" = 600 ] && echo 0 || echo 1) "hvd.sock is mode 0600"
ok $([ "$(cat "$RUN/hvd.pid")" = "$PID" ] && echo 0 || echo 1) "pid file"

fds_before=$(ls /proc/$PID/fd | wc -l)
# Domain memory is memfd-backed (memfd:xenon-ram/evt/xen); the allocator's
# own mappings vary (ASan), so count ours.
maps_before=$(grep -c "memfd:xenon-" /proc/$PID/maps)
# Its checks, numbered after ours (the plan, 1..n, comes last).
"$SELFTEST" "$RUN" "$RAWGUEST" xenstored "$GUEST" |
	awk '/^ok /{ $2 += 3 } /^not ok /{ $3 += 3 } { print; fflush() }' | tee "$T/selftest.tap"
rc=${PIPESTATUS[0]}
n=$((n + $(grep -c -E '^(not )?ok ' "$T/selftest.tap")))
[ "$rc" = 0 ] || fail=$((fail + 1))
# The selftest's hang-ups reach the daemon asynchronously: poll, bounded
# (10 s: a loaded machine may keep xenon-hvd waiting for a CPU).
for i in $(seq 1 500); do
	fds_after=$(ls /proc/$PID/fd | wc -l)
	maps_after=$(grep -c "memfd:xenon-" /proc/$PID/maps)
	[ "$fds_before.$maps_before" = "$fds_after.$maps_after" ] && break
	sleep 0.02
done
ok $([ "$fds_before" = "$fds_after" ] && echo 0 || echo 1) "no fd leaked ($fds_before -> $fds_after)"
ok $([ "$maps_before" = "$maps_after" ] && echo 0 || echo 1) "no domain memory mapping leaked ($maps_before -> $maps_after)"
ok $(grep -q "d9: process died" "$RUN/hvd.log" && echo 0 || echo 1) "the crash is logged"

# Garbage on the control socket: a short message is dropped, the daemon lives.
python3 - "$RUN/hvd.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1]); s.send(b"xx"); s.close()
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1]); s.send(b"\0" * 70000); print("#", len(s.recv(100))); s.close()
PY
ok $(kill -0 $PID 2>/dev/null && echo 0 || echo 1) "survives malformed and oversized messages"

xs_pid=$(cat "$RUN/xenstore/xenstored.pid" 2>/dev/null)
kill -TERM $PID
for i in $(seq 1 100); do kill -0 $PID 2>/dev/null || break; sleep 0.05; done
wait $PID; rc=$?
PID=
ok $([ $rc = 0 ] && echo 0 || echo 1) "SIGTERM: exit 0"
ok $([ ! -e "$RUN/hvd.sock" ] && [ ! -e "$RUN/hvd.pid" ] && echo 0 || echo 1) "socket and pid file removed"
ok $([ -n "$xs_pid" ] && ! kill -0 "$xs_pid" 2>/dev/null && echo 0 || echo 1) "xenstored stopped"
echo "1..$n"
[ $fail = 0 ]
