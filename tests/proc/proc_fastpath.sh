#!/bin/sh
# The fast send path end to end (procdom_proto.h (c), substrate/proc/
# procdom_send.c): two pingpong domains under a real xenon-hvd send every
# event in shared memory (the runtime's fast_sends counter, no hypercall),
# whether the channel was bound at creation or by the guest at run time;
# once the peer closes its port or dies, sends fall back to the hypercall.
#   proc_fastpath.sh XENON_CLI GUESTS_DIR
# No timing enters a verdict: the counters are exact.
set -u
PROC_NAME=proc-fastpath
. "$(dirname "$0")/proc_lib.sh" "$1" "$2"
N=2000
check_min() { # name, file, "ping"/"pong", minimum fast_sends
	v=$(sed -n "s/.*$3 stats: .* fast_sends \([0-9]*\) .*/\1/p" "$2" 2>/dev/null | head -1)
	if [ -n "$v" ] && [ "$v" -ge "$4" ]; then echo "ok - $1"; else echo "not ok - $1 ($v < $4)"; fail=1; fi
}
cfg() { # file, name, domid, extra, [more lines]
	printf 'name = "%s"\ntype = "process"\nkernel = "%s"\nmemory = 4\nvcpus = 1\ndomid = %s\nextra = "%s"\n%s\n' \
		"$2" "$G/pingpong" "$3" "$4" "${5:-}" >"$D/$1"
}
# part name, pong extra, ping extra, ping config lines, pong config lines.
# Channels bound at creation: each side's peer map comes with its BOOT
# reply, so every send is fast. Bound at run time, the peer map rides on
# the side's next reply (the bind's for the binder; for the other side
# perhaps its first send, which is then slow), and the entry is written
# just after that reply (procdom_proto.h (c) step 2): one more send may
# beat the write and take the hypercall, which the single-threaded daemon
# serves only after the write. So at most two sends per side are slow.
run() {
	up "$1"
	cfg "$1-pong.cfg" pong 2 "pingpong.port=10 pingpong.n=$N $2" "${5:-}"
	cfg "$1-ping.cfg" ping 3 "pingpong.port=10 pingpong.n=$N pingpong.role=ping pingpong.after=5 $3" "$4"
	timeout 10 "$X" $R create -p "$D/$1-pong.cfg" >/dev/null
	timeout 10 "$X" $R create "$D/$1-ping.cfg" >/dev/null
	timeout 10 "$X" $R unpause 2 >/dev/null
	wait_log "$RD/domain-3.log" "after the peer left"
	# pong's stats reach its log with its last flush, after its close:
	# ping may see the port closed, and finish, first.
	wait_log "$RD/domain-2.log" "pong stats"
	check_min "$1: ping sends in shared memory" "$RD/domain-3.log" ping $((N - SLACK))
	check_min "$1: pong replies in shared memory" "$RD/domain-2.log" pong $((N - SLACK))
	check "$1: after the peer left, sends take the hypercall" "$RD/domain-3.log" \
		"after the peer left (port status 1): 5 sends, 0 fast, 5 hypercalls"
	# SCHEDOP_block returns with events on, as from Xen's, also when the
	# runtime's spin caught the event with the guest's mask left set.
	if grep -q "ping stats: .*local_blocks [1-9][0-9]* .*blocks_left_masked 0\$" "$RD/domain-3.log" &&
		grep -q "pong stats: .*local_blocks [1-9][0-9]* .*blocks_left_masked 0\$" "$RD/domain-2.log"; then
		echo "ok - $1: every block returned with events on"
	else
		echo "not ok - $1: a block returned with events off (or none was local)"
		fail=1
	fi
	grep -h "round trips\|stats\|after the peer" "$RD/domain-3.log" "$RD/domain-2.log" | sed 's/^/# /'
}
echo "1..12"
BIND="$(printf 'evtchn_reserve = [ "domain=2,port=10,remote=self" ]\nevtchn_bind = [ "port=10,remote=2,remote_port=10" ]')"
SLACK=0
run prebound-close "pingpong.close=1" "" "$BIND"
run prebound-death "" "" "$BIND"
SLACK=2
# Bound by the guest at run time (EVTCHNOP_bind_interdomain to pong's port
# 10, which ping's creation reserved for it).
run runtime-bind "pingpong.close=1" "pingpong.peer=2 pingpong.remote=10" \
	"$(printf 'evtchn_reserve = [ "domain=2,port=10,remote=self" ]')"
exit $fail
