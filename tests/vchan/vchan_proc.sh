#!/bin/sh
# vchan between real process domains under xenon-hvd (bench/proc_vchan_guest.c).
#   vchan_proc.sh XENON_CLI GUEST_DIR   (GUEST_DIR: bench-proc-vchan-guest, vchan-proxy-guest)
# Two guests stream a seeded pattern both ways and check every byte (1 MiB
# rings, then 1 KiB / 2 KiB rings with odd write sizes: many wraps); a guest
# talks to itself; then each side is killed with SIGKILL mid-transfer and
# the survivor must see the channel closed, exit cleanly, and hold no port
# or grant it did not hold before; dom0's end through xenon vchan-proxy, and
# the proxy's guest killed mid-stream (the proxy must notice and exit);
# then how a proxy session ends: either side closing, half-closing or going
# away with bytes still in flight both ways, every accepted byte delivered.
set -u
PROC_NAME=vchan-proc
. "$(dirname "$0")/../proc/proc_lib.sh" "$1" "$2"
. "$(dirname "$0")/vchan_lib.sh"
# The ports a survivor holds after close equal those before it opened.
no_leak() { # name, domid
	local f b a
	f=$(log "$2")
	b=$(sed -n 's/^vchan: before: ports_open \([0-9]*\).*/\1/p' "$f")
	a=$(sed -n 's/^vchan: after close: ports_open \([0-9]*\) grants_in_use 0 maps_leaked 0$/\1/p' "$f")
	if [ -n "$b" ] && [ "$a" = "$b" ]; then echo "ok - $1"; else
		echo "not ok - $1 (before '$b' after '$a')"
		fail=1
	fi
}
# The python program on stdin, run with `s` a stream socket connected to
# the UNIX socket $1 (vchan_proxy_peer.py's connect: vchan-proxy gives no
# sign when it listens, so it retries) and sys.argv[1:] = "$@".
py_connected() { # socket, args...
	local prog
	prog=$(cat)
	timeout 30 python3 -c "import sys
sys.path.insert(0, sys.argv.pop(1))
from vchan_proxy_peer import connect
s = connect(sys.argv[1], False)
$prog" "$(dirname "$0")" "$@"
}
# Both ends of a channel: the server domain 1, the client domain 2.
pair() { # server's extra, client's extra
	cfg s.cfg vsrv 1 "$1"
	cfg c.cfg vcli 2 "$2"
	create s.cfg c.cfg
}
echo "1..26"

up pair
pair "vchan.server vchan.peer=2 vchan.id=1 vchan.bidir vchan.bytes=8388608 vchan.linger_ms=1" \
	"vchan.client vchan.peer=1 vchan.id=1 vchan.bidir vchan.bytes=8388608 vchan.linger_ms=1"
wait_log "$(log 1)" "after close"
wait_log "$(log 2)" "after close"
check "1 MiB rings: client -> server, 8 MiB byte-exact" "$(log 1)" "received 8388608 bytes in [0-9]* ns, ok"
check "1 MiB rings: server -> client, 8 MiB byte-exact" "$(log 2)" "received 8388608 bytes in [0-9]* ns, ok"
no_leak "server: no port or grant left after close" 1
no_leak "client: no port or map left after close" 2
grep -h "received\|sent" "$(log 1)" "$(log 2)" | sed 's/^/# /'

up small
pair "vchan.server vchan.peer=2 vchan.id=7 vchan.order=10 vchan.chunk=777 vchan.bidir vchan.bytes=3000001" \
	"vchan.client vchan.peer=1 vchan.id=7 vchan.order=10 vchan.chunk=777 vchan.bidir vchan.bytes=3000001"
wait_log "$(log 1)" "after close"
wait_log "$(log 2)" "after close"
check "1 KiB / 2 KiB rings, 777-byte writes: byte-exact both ways" "$(log 2)" "received 3000001 bytes in [0-9]* ns, ok"
check "small rings: server side byte-exact" "$(log 1)" "received 3000001 bytes in [0-9]* ns, ok"

up self
cfg self.cfg vself 3 "vchan.self vchan.id=3 vchan.order=13 vchan.chunk=5000 vchan.bidir vchan.bytes=4194304"
create self.cfg
wait_log "$(log 3)" "after close"
if [ "$(grep -c 'received 4194304 bytes in self, ok' "$(log 3)")" = 2 ]; then
	echo "ok - a guest with itself: both directions byte-exact"
else
	echo "not ok - a guest with itself"
	fail=1
fi
no_leak "self: no port or grant left" 3

up killcli
pair "vchan.server vchan.peer=2 vchan.id=2 vchan.bytes=100000000000 vchan.linger_ms=1" \
	"vchan.client vchan.peer=1 vchan.id=2 vchan.bytes=100000000000"
wait_log "$(log 2)" "connected"
kill_guest 2
wait_log "$(log 1)" "after close"
check "client killed mid-stream: the server sees it closed" "$(log 1)" "peer closed after [0-9]* bytes"
no_leak "server after the client's SIGKILL: no port or grant left" 1

up killsrv
pair "vchan.server vchan.peer=2 vchan.id=2 vchan.bytes=100000000000" \
	"vchan.client vchan.peer=1 vchan.id=2 vchan.bytes=100000000000 vchan.linger_ms=1"
wait_log "$(log 2)" "connected"
kill_guest 1
wait_log "$(log 2)" "after close"
check "server killed mid-stream: the client sees it closed" "$(log 2)" "peer closed after [0-9]* bytes"
no_leak "client after the server's SIGKILL: no port or map left" 2
up proxy
cfg c.cfg vcli 1 "vchan.client vchan.peer=0 vchan.id=5 vchan.bytes=262144 vchan.chunk=3000 vchan.linger_ms=1"
create c.cfg
timeout 30 "$X" $R vchan-proxy --server 1 /local/domain/0/data/vchan/5 "$D/px.sock" >"$D/px.log" 2>&1 &
PX=$!
# The socket end: read to EOF, check the guest's pattern byte for byte.
py_connected "$D/px.sock" >"$D/py.out" 2>&1 <<'EOF2'
data = bytearray()
while True:
    b = s.recv(65536)
    if not b: break
    data += b
M = (1 << 64) - 1
def pat(i):
    x = ((i + 1) * 0x9e3779b97f4a7c15 & M) ^ 1
    x ^= x >> 29
    return ((x * 0xbf58476d1ce4e5b9) & M) >> 56
bad = next((i for i in range(len(data)) if data[i] != pat(i)), -1)
print("got", len(data), "bad", bad)
EOF2
wait $PX
check "dom0 <-> domU through vchan-proxy: 256 KiB byte-exact to the socket" "$D/py.out" "got 262144 bad -1"
wait_log "$(log 1)" "after close"
no_leak "domU after the proxy session: no port or map left" 1
# The guest end killed outright mid-stream: it never clears its live flag,
# so the proxy must find out from the core (its liveness check after a
# quiet poll), flush what it holds and exit by itself, well within the
# timeout that would otherwise end it (status 124).
up proxykill
cfg c.cfg vcli 1 "vchan.client vchan.peer=0 vchan.id=6 vchan.bytes=1073741824 vchan.chunk=4096"
create c.cfg
timeout 30 "$X" $R vchan-proxy --server 1 /local/domain/0/data/vchan/6 "$D/pk.sock" >"$D/pk.log" 2>&1 &
PX=$!
py_connected "$D/pk.sock" "$(log 1)" >"$D/pk.out" 2>&1 <<'EOF2'
import os, re, signal
got, killed = 0, False
while True:
    b = s.recv(65536)
    if not b: break
    got += len(b)
    if not killed and got >= 1 << 20:
        m = re.search(r"^vchan: pid (\d+)", open(sys.argv[2]).read(), re.M)
        if m:
            os.kill(int(m.group(1)), signal.SIGKILL)
            killed = True
print("killed", killed, "eof after", got)
EOF2
wait $PX
st=$?
ok=$( [ "$st" = 0 ] && grep -q "killed True eof after" "$D/pk.out" && echo 0 || echo 1)
[ "$ok" = 0 ] && echo "ok - vchan-proxy sees its guest killed mid-stream and exits by itself" ||
	{ echo "not ok - vchan-proxy after its guest's SIGKILL: status $st, $(cat "$D/pk.out")"; fail=1; }
# The other way: data from the socket stuck for a guest killed outright,
# then the socket closes (poll() reports the hang-up at once, every time):
# the proxy must still notice the dead guest and exit, not spin.
up proxyhup
cfg s.cfg vsrv 1 "vchan.server vchan.peer=0 vchan.id=8 vchan.order=12 vchan.bytes=1073741824"
create s.cfg
wait_log "$(log 1)" "vchan: pid"
timeout 30 python3 - "$D/ph.sock" "$(log 1)" >"$D/ph.out" 2>&1 <<'EOF2' &
import os, re, signal, socket, sys
l = socket.socket(socket.AF_UNIX)
# Renamed into place once listening: the proxy connects when it appears.
l.bind(sys.argv[1] + ".new"); l.listen(1); os.rename(sys.argv[1] + ".new", sys.argv[1])
l.settimeout(20)
s, _ = l.accept()
m = re.search(r"^vchan: pid (\d+)", open(sys.argv[2]).read(), re.M)
os.kill(int(m.group(1)), signal.SIGKILL)
s.setblocking(False)
sent = 0
try:
    while sent < 64 << 20:
        sent += s.send(b"x" * 65536)
except BlockingIOError:
    pass
s.close()
print("killed, sent", sent, "then closed")
EOF2
PY=$!
# Until python listens (20 s at most: it may start slowly on a loaded machine).
wait_until test -S "$D/ph.sock"
timeout 30 "$X" $R vchan-proxy --client 1 /local/domain/1/data/vchan/8 "$D/ph.sock" >"$D/ph.log" 2>&1
st=$?
wait $PY
ok=$( [ "$st" != 124 ] && grep -q "then closed" "$D/ph.out" && echo 0 || echo 1)
[ "$ok" = 0 ] && echo "ok - vchan-proxy: socket data stuck for a killed guest, socket closed: exits" ||
	{ echo "not ok - vchan-proxy after hang-up with data stuck: status $st, $(cat "$D/ph.out")"; fail=1; }
# vchan-proxy at a session's end: nothing it accepted is lost, the socket
# client reads a clean EOF, and the log names the side that ended it. The
# socket end is vchan_proxy_peer.py.
PP="$(dirname "$0")/vchan_proxy_peer.py"
# The proxy's status and its end-of-session line: which side ended it.
px_check() { # name, status, log, pattern
	if [ "$2" = 0 ] && grep -q "$4" "$3"; then echo "ok - $1"; else
		echo "not ok - $1 (status $2: $(tr '\n' ' ' <"$3"))"
		fail=1
	fi
}
px_out() { # name, file, pattern: as check, showing the file on failure
	if grep -q "$3" "$2"; then echo "ok - $1"; else
		echo "not ok - $1 ($(tr '\n' ' ' <"$2"))"
		fail=1
	fi
}
# The vchan peer writes 512 KiB and closes at once while the socket client
# keeps writing (so the proxy holds bytes for the vchan when it closes):
# all 512 KiB reach the client, then a clean end of stream, not a reset.
up proxyeof
cfg c.cfg vcli 1 "vchan.client vchan.peer=0 vchan.id=9 vchan.bytes=524288 vchan.chunk=4096"
create c.cfg
timeout 30 "$X" $R vchan-proxy --server 1 /local/domain/0/data/vchan/9 "$D/pe.sock" >"$D/pe.log" 2>&1 &
PX=$!
timeout 30 python3 "$PP" "$D/pe.sock" --flood >"$D/pe.out" 2>&1
wait $PX
st=$?
px_out "vchan peer writes 512 KiB and closes: all of it reaches the socket, then EOF" "$D/pe.out" "got 524288 bad -1 end eof"
px_check "vchan peer closed first: the proxy says so" $st "$D/pe.log" "domain 1: ended by the vchan peer"
# The socket client writes 512 KiB and half-closes; the guest (the vchan
# server, 4 KiB rings: most of it still in flight at the half-close) must
# get every byte, and the client a clean end of stream.
up proxyhalf
cfg s.cfg vsrv 1 "vchan.server vchan.peer=0 vchan.id=10 vchan.order=12 vchan.chunk=4096 vchan.bytes=524288"
create s.cfg
wait_log "$(log 1)" "listening at"
timeout 30 python3 "$PP" "$D/hc.sock" --listen --send 524288 --half-close >"$D/hc.out" 2>&1 &
PY=$!
wait_until test -S "$D/hc.sock"
timeout 30 "$X" $R vchan-proxy --client 1 /local/domain/1/data/vchan/10 "$D/hc.sock" >"$D/hc.log" 2>&1
st=$?
wait $PY
wait_log "$(log 1)" "after close"
check "socket client writes 512 KiB and half-closes: all of it reaches the guest" "$(log 1)" "received 524288 bytes in [0-9]* ns, ok"
px_out "socket client after its half-close: a clean end of stream" "$D/hc.out" "got 0 bad -1 end eof sent 524288"
px_check "socket client closed first: the proxy says so" $st "$D/hc.log" "domain 1: ended by the socket client, which ended its stream"
# The same both ways at once, with a guest that writes and reads together
# (tests/vchan/vchan_proxy_guest.c).
vpx_cfg() { cfg_kernel vchan-proxy-guest "$@"; } # file, name, domid, extra
# The socket client writes 128 KiB and closes without reading while the
# guest is busy writing to it (it reads only once it sent 4 MiB): the
# proxy's writes to the socket then fail, yet what the client sent must
# reach the guest, all of it -- the proxy discards the guest's bytes, which
# nobody takes any more, so the guest gets to reading.
up proxygone
vpx_cfg c.cfg vpxc 1 "vpx.client vpx.id=11 vpx.send=4194304 vpx.recv=131072 vpx.recv_after=4194304"
create c.cfg
timeout 30 "$X" $R vchan-proxy --server 1 /local/domain/0/data/vchan/11 "$D/pg.sock" >"$D/pg.log" 2>&1 &
PX=$!
timeout 30 python3 "$PP" "$D/pg.sock" --send 131072 --send-seed 2 --no-read >"$D/pg.out" 2>&1
wait $PX
st=$?
wait_log "$(log 1)" "vpx: closed"
px_out "socket client writes 128 KiB and leaves, guest still writing: the guest gets it all" "$(log 1)" "received 131072 of 131072, ok"
px_check "socket client left first: the proxy says so" $st "$D/pg.log" "domain 1: ended by the socket client, which went away"
# The socket client writes 512 KiB and half-closes, the guest (the vchan
# client this time, reading) must get every byte: the proxy may close the
# channel only once the guest has taken them.
up proxyhalf2
vpx_cfg c.cfg vpxc 1 "vpx.client vpx.id=12 vpx.recv=524288 vpx.stay"
create c.cfg
timeout 30 "$X" $R vchan-proxy --server 1 /local/domain/0/data/vchan/12 "$D/h2.sock" >"$D/h2.log" 2>&1 &
PX=$!
timeout 30 python3 "$PP" "$D/h2.sock" --send 524288 --send-seed 2 --half-close >"$D/h2.out" 2>&1
wait $PX
st=$?
wait_log "$(log 1)" "vpx: closed"
px_out "socket client half-closes, the guest reading as the vchan client: all 512 KiB arrive" "$(log 1)" "received 524288 of 524288, ok"
px_out "the socket client sees a clean end of stream after its half-close" "$D/h2.out" "got 0 bad -1 end eof sent 524288"
px_check "socket client half-closed first: the proxy says so" $st "$D/h2.log" "domain 1: ended by the socket client, which ended its stream"
exit $fail
