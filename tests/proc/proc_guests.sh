#!/bin/sh
# End to end: the example guests as real process domains under xenon-hvd.
#   proc_guests.sh XENON_CLI GUESTS_DIR
# hello boots and prints; pingpong bounces events between two domains over a
# channel wired at creation; seed002-domu sends to dom0's reserved port.
# Each part runs under its own daemon (fresh run dir): a domain torn down
# must not be able to disturb the next part.
set -u
X=$1
G=$2
D=$(mktemp -d /tmp/xenon-proc-guests.XXXXXX)
fail=0
R=
down() {
	[ -n "$R" ] && timeout 10 "$X" $R down >/dev/null 2>&1
	if [ -n "$R" ] && [ -f "$RD/hvd.pid" ]; then
		# A daemon that did not stop: its process group, by its pid file.
		kill -9 -- "-$(cat "$RD/hvd.pid")" 2>/dev/null
	fi
}
cleanup() {
	down
	if [ $fail -ne 0 ]; then
		for f in "$D"/*/hvd.log "$D"/*/domain-*.log; do
			[ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }
		done
	fi
	rm -rf "$D"
}
trap cleanup EXIT
up() { # part name, dom0-reserve
	down
	RD="$D/$1"
	R="--run-dir $RD"
	timeout 20 "$X" $R up --dom0-reserve "$2" >/dev/null || { echo "Bail out! xenon up"; fail=1; exit 1; }
}
check() { # name, file, pattern
	if grep -q "$3" "$2" 2>/dev/null; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi
}
wait_log() { # file, pattern: until it appears (10 s)
	i=0
	while [ $i -lt 100 ] && ! grep -q "$2" "$1" 2>/dev/null; do
		sleep 0.1; i=$((i + 1))
	done
}
cfg() { # file, name, domid, kernel, extra, [more lines]
	printf 'name = "%s"\ntype = "process"\nkernel = "%s"\nmemory = 4\nvcpus = 1\ndomid = %s\nextra = "%s"\n%s\n' \
		"$2" "$G/$4" "$3" "$5" "${6:-}" >"$D/$1"
}
echo "1..4"

up hello 121:5
cfg hello.cfg hello 1 hello ""
timeout 10 "$X" $R create "$D/hello.cfg" >/dev/null
wait_log "$RD/domain-1.log" "hello from"
check "hello prints and powers off" "$RD/domain-1.log" "hello from domain 1"

up pingpong 121:5
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

up seed002 121:5
cfg s2.cfg s2 5 seed002-domu "seed002.count=10 seed002.timeout_ms=200" \
	"$(printf 'evtchn_bind = [ "port=127,remote=0,remote_port=121" ]')"
timeout 10 "$X" $R create "$D/s2.cfg" >/dev/null
wait_log "$RD/domain-5.log" "seed002-domu:"
check "seed002-domu sends to dom0" "$RD/domain-5.log" "sent 10 events on port 127"
grep -h "seed002" "$RD/domain-5.log" | sed 's/^/# /'
exit $fail
