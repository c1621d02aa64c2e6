#!/bin/sh
# dom0's vchan (lib/vchan) sees a peer domain killed outright.
#   vchan_dom0.sh XENON_CLI BUILD_DIR   (BUILD_DIR holds bench-proc-vchan-guest
#                                        and vchan-dom0-peer)
# A process domain streams through a vchan with dom0 (vchan_dom0_peer.c),
# first as the client writing to dom0's server, then as the server dom0
# writes to; its process is killed with SIGKILL mid-stream. A killed guest
# zeroes no live byte and sends no event: dom0's end must still find the
# channel closed (the binding's thorough liveness check) and exit, bounded.
set -u
PROC_NAME=vchan-dom0
. "$(dirname "$0")/../proc/proc_lib.sh" "$1" "$2"
. "$(dirname "$0")/vchan_lib.sh"
# One part: ROLE is dom0's; the guest (domid 1) takes the other role.
part() { # name, dom0 role, guest extra, xenstore path
	local out="$D/$1.out" peer
	up "$1"
	cfg g.cfg vguest 1 "$3"
	create g.cfg
	timeout 40 "$G/vchan-dom0-peer" "$RD" "$2" 1 "$4" >"$out" 2>&1 &
	peer=$!
	wait_log "$out" "dom0: moving"
	check "$1: bytes flow between dom0 and the guest" "$out" "dom0: moving"
	kill_guest 1
	wait $peer
	check "$1: dom0 finds the killed guest gone and closes" "$out" "dom0: peer gone after"
	grep -h "dom0:" "$out" | sed 's/^/# /'
}
echo "1..4"
part dom0-server server "vchan.client vchan.peer=0 vchan.id=9 vchan.bytes=100000000000" \
	/local/domain/0/data/vchan/9
part dom0-client client "vchan.server vchan.peer=0 vchan.id=9 vchan.bytes=100000000000" \
	/local/domain/1/data/vchan/9
exit $fail
