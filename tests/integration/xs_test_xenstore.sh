#!/bin/bash
# Xen's own test-xenstore against xenon-xenstored: each of its 12 tests with
# -i 1000 is one TAP case (exit 0 = pass; its timing line is kept as a TAP
# comment), then random mode (-r 10). Usage: xs_test_xenstore.sh DAEMON
set -u
. "$(dirname "$0")/xs_lib.sh"
TX=/usr/lib/xen-4.17/bin/test-xenstore

if ! xs_start "$1"; then
	tap_not_ok "daemon starts and signals readiness"
	exit 1
fi
tap_ok "daemon starts and signals readiness"

# The test names come from the tool itself ("name  : description").
mapfile -t tests < <("$TX" -l | sed 's/ *:.*//')
tap_check "test-xenstore -l lists its 12 tests" [ "${#tests[@]}" = 12 ]

for t in "${tests[@]}"; do
	out=$(timeout 60 "$TX" -t "$t" -i 1000 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/# /'
	tap_check "test-xenstore -t '$t' -i 1000 (rc=$rc)" [ $rc = 0 ]
done

out=$(timeout 60 "$TX" -r 10 2>&1)
rc=$?
printf '%s\n' "$out" | tail -5 | sed 's/^/# /'
tap_check "test-xenstore -r 10 random mode (rc=$rc)" [ $rc = 0 ]

tap_check "daemon still running" kill -0 "$XS_PID"
tap_check "SIGTERM: exit 0, socket and pid file removed" xs_stop
