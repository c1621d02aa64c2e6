#!/bin/sh
# End to end: process domains with several vCPUs (examples/guests/smp.c).
#   proc_smp.sh XENON_CLI GUESTS_DIR
# The guest brings up its secondary vCPUs, bounces IPIs between vCPU 0 and
# each of them (every handler must run on the vCPU it was bound to), and
# moves a channel's notifications to its last vCPU (EVTCHNOP_bind_vcpu).
# `xenon list --json' must report the vCPUs while it runs.
set -u
PROC_NAME=proc-smp
. "$(dirname "$0")/proc_lib.sh" "$1" "$2"
cfg() { # file, name, domid, vcpus, extra
	printf 'name = "%s"\ntype = "process"\nkernel = "%s"\nmemory = 4\nvcpus = %s\ndomid = %s\nextra = "%s"\n' \
		"$2" "$G/smp" "$4" "$3" "$5" >"$D/$1"
}
echo "1..4"

up smp
cfg two.cfg two 1 2 "smp.rounds=200"
cfg four.cfg four 2 4 "smp.rounds=100"
timeout 10 "$X" $R create -p "$D/four.cfg" >/dev/null
if timeout 10 "$X" $R list --json | python3 -c '
import json, sys
d = [x for x in json.load(sys.stdin) if x["domid"] == 2]
sys.exit(0 if d and d[0]["vcpus"] == 4 else 1)'; then
	echo "ok 1 - xenon list --json shows 4 vCPUs"
else
	echo "not ok 1 - xenon list --json shows 4 vCPUs"; fail=1
fi
timeout 10 "$X" $R unpause 2 >/dev/null
timeout 10 "$X" $R create "$D/two.cfg" >/dev/null
wait_log "$RD/domain-1.log" "smp "
wait_log "$RD/domain-2.log" "smp "
check "2 vCPUs: IPIs both ways, channel moved to vCPU 1" "$RD/domain-1.log" \
	"smp ok: vcpus 2, 200 IPIs answered, loopback event on vCPU 1"
check "4 vCPUs: IPIs both ways, channel moved to vCPU 3" "$RD/domain-2.log" \
	"smp ok: vcpus 4, 300 IPIs answered, loopback event on vCPU 3"
# Both logs must exist (a missing file makes grep fail: not a pass).
if ! [ -s "$RD/domain-1.log" ] || ! [ -s "$RD/domain-2.log" ] ||
	grep -q "FAILED" "$RD/domain-1.log" "$RD/domain-2.log"; then
	echo "not ok 4 - no check failed"; fail=1
	cat "$RD/domain-1.log" "$RD/domain-2.log" | sed 's/^/# /'
else
	echo "ok 4 - no check failed"
fi
exit $fail
