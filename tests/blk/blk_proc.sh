#!/bin/sh
# Block devices across real processes: a blk-guest domain (blkfront in the
# guest library) against xenon-blkback serving a raw image file.
#   blk_proc.sh XENON_CLI BLK_GUEST XENON_BLKBACK
# Parts: byte-exact verify (8 MiB of random I/O); kill -9 of the back end
# mid-I/O (the guest sees it gone, ends every grant); kill -9 of the guest
# mid-I/O (the back end disconnects, removes the device, dom0 keeps no port
# to it); flush durability (the guest writes a pattern, flushes, says so;
# both sides are killed; the image file holds the pattern).
# xenon-blkback is started here beside `xenon up` (a dom0 client like any).
set -u
PROC_NAME=blk-proc
. "$(dirname "$0")/../proc/proc_lib.sh" "$1" "$(dirname "$2")"
GUEST=$2
BB=$3
BBPID=
stop_bb() {
	[ -n "$BBPID" ] && kill -9 "$BBPID" 2>/dev/null && wait "$BBPID" 2>/dev/null
	BBPID=
}
trap 'stop_bb; cleanup' EXIT
start_bb() { # ready when its log says so
	"$BB" --run-dir "$RD" >"$D/bb.out" 2>&1 &
	BBPID=$!
	wait_log "$RD/blkback/blkback.log" "ready"
}
cfg() { # file, image, extra
	printf 'name = "blk"\ntype = "process"\nkernel = "%s"\nmemory = 32\nvcpus = 1\ndomid = 1\ndisk = [ "%s,raw,xvda,rw" ]\nextra = "%s"\n' \
		"$GUEST" "$2" "$3" >"$D/$1"
}
guest_pid() {
	"$X" $R list | awk '$1=="blk" {print $6}'
}
echo "1..8"

up verify
truncate -s 8M "$D/v.img"
start_bb
cfg v.cfg "$D/v.img" "blk.mode=1 blk.mib=8"
timeout 10 "$X" $R create "$D/v.cfg" >/dev/null
wait_log "$RD/domain-1.log" "blk: closed"
check "verify: 8 MiB byte-exact through blkfront/blkback" "$RD/domain-1.log" "blk: verify ok"
check "verify: every grant ended" "$RD/domain-1.log" "blk: closed leaked=0"
stop_bb

up kill-back
truncate -s 8M "$D/k.img"
start_bb
cfg k.cfg "$D/k.img" "blk.mode=3"
timeout 10 "$X" $R create "$D/k.cfg" >/dev/null
wait_log "$RD/domain-1.log" "blk: looping"
wait_log "$RD/blkback/blkback.log" "connected"
stop_bb
wait_log "$RD/domain-1.log" "blk: closed"
check "kill -9 back end: the guest sees it gone" "$RD/domain-1.log" "blk: backend gone"
check "kill -9 back end: no grant left" "$RD/domain-1.log" "blk: closed leaked=0"

up kill-front
truncate -s 8M "$D/f.img"
start_bb
cfg f.cfg "$D/f.img" "blk.mode=3"
timeout 10 "$X" $R create "$D/f.cfg" >/dev/null
wait_log "$RD/domain-1.log" "blk: looping"
wait_log "$RD/blkback/blkback.log" "connected"
P=$(guest_pid)
[ -n "$P" ] && kill -9 "$P"
wait_log "$RD/blkback/blkback.log" "disconnected"
check "kill -9 guest: the back end disconnects" "$RD/blkback/blkback.log" "vbd 1/51712: disconnected"
if "$X" $R evtchn 0 | grep -q "dom1:"; then
	echo "not ok - kill -9 guest: dom0 holds no port to it"; fail=1
else
	echo "ok - kill -9 guest: dom0 holds no port to it"
fi
if XENSTORED_PATH="$RD/xenstore/socket" xenstore-ls /local/domain/0/backend/vbd 2>/dev/null | grep -q "51712"; then
	echo "not ok - kill -9 guest: the vbd's nodes are removed"; fail=1
else
	echo "ok - kill -9 guest: the vbd's nodes are removed"
fi
stop_bb

up flush
truncate -s 8M "$D/d.img"
start_bb
cfg d.cfg "$D/d.img" "blk.mode=2 blk.mib=4 blk.seed=7"
timeout 10 "$X" $R create "$D/d.cfg" >/dev/null
wait_log "$RD/domain-1.log" "blk: flushed"
P=$(guest_pid)
stop_bb
[ -n "$P" ] && kill -9 "$P"
if python3 - "$D/d.img" <<'EOF'
import struct, sys
M = (1 << 64) - 1
def mix(x):
    x = (x + 0x9e3779b97f4a7c15) & M
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & M
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & M
    return x ^ (x >> 31)
data = open(sys.argv[1], 'rb').read(4 << 20)
words = struct.unpack('<%dQ' % (len(data) // 8), data)
bad = sum(1 for i, w in enumerate(words) if w != mix(7 ^ i))
sys.exit(1 if bad or len(data) != 4 << 20 else 0)
EOF
then
	echo "ok - flush: the image holds every flushed byte after both sides are killed"
else
	echo "not ok - flush: the image holds every flushed byte after both sides are killed"; fail=1
fi
exit $fail
