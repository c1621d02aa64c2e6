#!/usr/bin/env bash
# `make demo`: xenon's main job, self-contained.
#
#   0. `xenon demo`: seed 002 with process domains -- its own xenon-hvd and
#      xenstored in a private run dir, dom0 reserving 121..126, dom1..dom6
#      created with port 127 bound to dom0:120+N, events both ways through
#      handlers, seed 001's dynamic channel between dom1 and dom2, a table,
#      everything torn down (see tools/xenon/demo.c);
#   1. seed 002 on the hypervisor core: dom0 reserves ports 121..126 for
#      dom1..dom6, each domU's port 127 is bound at creation, events flow
#      both ways through hypercalls, plus seed 001's dynamic channel;
#   2. the XenStore daemon in a private run dir: the toolstack's view of
#      those domains written and read back with Debian's xenstore-* tools,
#      a watch firing, and Xen's own test-xenstore suite.
# Everything runs in a temporary directory removed at the end; the daemon is
# stopped by its pid. Exit status 0 only if every step succeeded.
set -euo pipefail
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
XSD="$BUILD/dom0/xenstored/xenon-xenstored"
RUN=$(mktemp -d "${TMPDIR:-/tmp}/xenon-demo.XXXXXX")
XSD_PID=

cleanup() {
	if [ -n "$XSD_PID" ] && kill -0 "$XSD_PID" 2>/dev/null; then
		kill "$XSD_PID"
		wait "$XSD_PID" 2>/dev/null || true
	fi
	rm -rf "$RUN"
}
trap cleanup EXIT

echo "== 0. xenon demo: seed 002 with process domains =="
"$BUILD/tools/xenon/xenon" demo --domains 6 --events "${DEMO_EVENTS:-1000}"

echo
echo "== 1. seed 002 on the hypervisor core =="
"$BUILD/examples/seed002-core" --events "${EVENTS:-10000}"

echo
echo "== 2. XenStore: xenon-xenstored with Debian's clients =="
mkfifo "$RUN/ready"
"$XSD" --run-dir "$RUN" --ready-fd 3 3>"$RUN/ready" &
XSD_PID=$!
read -r -t 10 line <"$RUN/ready"
[ "$line" = READY ] || { echo "xenstored did not become ready"; exit 1; }
export XENSTORED_PATH="$RUN/socket"

# A watch, registered before the domains' entries appear: its first line
# (the initial event every watch gets) says it is in place.
mkfifo "$RUN/watch"
timeout 10 xenstore-watch -n 2 /local/domain/3/name >"$RUN/watch" &
WATCH_PID=$!
exec 4<"$RUN/watch"
read -r -t 10 first <&4
for n in 1 2 3 4 5 6; do
	xenstore-write /local/domain/$n/name "domU$n" /local/domain/$n/domid "$n" \
		/local/domain/$n/device/evtchn/0/port 127 \
		/local/domain/$n/device/evtchn/0/remote-port $((120 + n))
	xenstore-chmod -r /local/domain/$n n$n r0
done
xenstore-ls -p /local/domain/3
echo "dom3 reads its remote port: $(xenstore-read /local/domain/3/device/evtchn/0/remote-port)"
read -r -t 10 second <&4
wait "$WATCH_PID"
exec 4<&-
echo "a watch on /local/domain/3/name fired: initial event '$first', then '$second'"

echo
echo "== 3. Xen's own test-xenstore against it =="
/usr/lib/xen-4.17/bin/test-xenstore -i 100
echo
echo "demo: ok"
