#!/bin/sh
# End to end: the example guests as real process domains under xenon-hvd.
#   proc_guests.sh XENON_CLI GUESTS_DIR
# hello boots and prints; pingpong bounces events between two domains over a
# channel wired at creation; seed002-domu sends to dom0's reserved port.
# Each part runs under its own daemon (fresh run dir): a domain torn down
# must not be able to disturb the next part.
set -u
PROC_NAME=proc-guests
. "$(dirname "$0")/proc_lib.sh" "$1" "$2"
cfg() { # file, name, domid, kernel, extra, [more lines]
	printf 'name = "%s"\ntype = "process"\nkernel = "%s"\nmemory = 4\nvcpus = 1\ndomid = %s\nextra = "%s"\n%s\n' \
		"$2" "$G/$4" "$3" "$5" "${6:-}" >"$D/$1"
}
echo "1..4"

up hello --dom0-reserve 121:5
cfg hello.cfg hello 1 hello ""
timeout 10 "$X" $R create "$D/hello.cfg" >/dev/null
wait_log "$RD/domain-1.log" "hello from"
check "hello prints and powers off" "$RD/domain-1.log" "hello from domain 1"

up pingpong --dom0-reserve 121:5
cfg pong.cfg pong 2 pingpong "pingpong.port=10 pingpong.n=2000"
cfg ping.cfg ping 3 pingpong "pingpong.port=10 pingpong.n=2000 pingpong.role=ping" \
	"$(printf 'evtchn_reserve = [ "domain=2,port=10,remote=self" ]\nevtchn_bind = [ "port=10,remote=2,remote_port=10" ]')"
timeout 10 "$X" $R create -p "$D/pong.cfg" >/dev/null
timeout 10 "$X" $R create "$D/ping.cfg" >/dev/null
timeout 10 "$X" $R unpause 2 >/dev/null
wait_log "$RD/domain-3.log" "ping done"
wait_log "$RD/domain-2.log" "pong done"
check "pingpong: ping side" "$RD/domain-3.log" "2000 round trips"
check "pingpong: pong side" "$RD/domain-2.log" "pong done, 2000 events"
grep -h "round trips" "$RD/domain-3.log" | sed 's/^/# /'

up seed002 --dom0-reserve 121:5
cfg s2.cfg s2 5 seed002-domu "seed002.count=10 seed002.timeout_ms=200" \
	"$(printf 'evtchn_bind = [ "port=127,remote=0,remote_port=121" ]')"
timeout 10 "$X" $R create "$D/s2.cfg" >/dev/null
wait_log "$RD/domain-5.log" "seed002-domu:"
check "seed002-domu sends to dom0" "$RD/domain-5.log" "sent 10 events on port 127"
grep -h "seed002" "$RD/domain-5.log" | sed 's/^/# /'
exit $fail
