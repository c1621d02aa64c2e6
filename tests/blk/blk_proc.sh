#!/bin/sh
# Block devices across real processes: a blk-guest domain (blkfront in the
# guest library) against xenon-blkback serving a raw image file.
#   blk_proc.sh XENON_CLI BLK_GUEST XENON_BLKBACK
# Parts: byte-exact verify (8 MiB of random I/O); kill -9 of the back end
# mid-I/O (the guest sees it gone, ends every grant); kill -9 of the guest
# mid-I/O (the back end disconnects, removes the device, dom0 keeps no port
# to it); flush durability (the guest writes a pattern, flushes, says so;
# both sides are killed; the image file holds the pattern).
# xenon-blkback is xenon-hvd's service: `xenon up` is ready only once it
# is, so no step here starts it. XENON_BLKBACK is only a build dependency.
set -u
PROC_NAME=blk-proc
. "$(dirname "$0")/../proc/proc_lib.sh" "$1" "$(dirname "$2")"
GUEST=$2
# The running service's pid (its pid file), or nothing.
bb_pid() { cat "$RD/blkback/blkback.pid" 2>/dev/null; }
KILLED=
kill_bb() { # kill -9 the service (xenon-hvd logs it and starts another)
	KILLED=$(bb_pid)
	[ -n "$KILLED" ] && kill -9 "$KILLED" 2>/dev/null
}
cfg() { # file, image, extra[, domid (default 1; name blk, or blkN)[, vdev (xvda)]]
	local id=${4:-1} name=blk
	[ "$id" = 1 ] || name=blk$id
	printf 'name = "%s"\ntype = "process"\nkernel = "%s"\nmemory = 32\nvcpus = 1\ndomid = %s\ndisk = [ "%s,raw,%s,rw" ]\nextra = "%s"\n' \
		"$name" "$GUEST" "$id" "$2" "${5:-xvda}" "$3" >"$D/$1"
}
guest_pid() {
	"$X" $R list | awk '$1=="blk" {print $6}'
}
echo "1..14"

up verify
BB0=$(bb_pid)
if [ -n "$BB0" ] && [ "$(awk '{ print $4 }' "/proc/$BB0/stat" 2>/dev/null)" = "$(cat "$RD/hvd.pid")" ]; then
	echo "ok - xenon up started xenon-blkback as a service"
else
	echo "not ok - xenon up started xenon-blkback as a service"; fail=1
fi
truncate -s 8M "$D/v.img"
cfg v.cfg "$D/v.img" "blk.mode=1 blk.mib=8"
timeout 10 "$X" $R create "$D/v.cfg" >/dev/null
wait_log "$RD/domain-1.log" "blk: closed"
check "verify: 8 MiB byte-exact through blkfront/blkback" "$RD/domain-1.log" "blk: verify ok"
check "verify: every grant ended" "$RD/domain-1.log" "blk: closed leaked=0"

up kill-back
truncate -s 8M "$D/k.img"
cfg k.cfg "$D/k.img" "blk.mode=3"
timeout 10 "$X" $R create "$D/k.cfg" >/dev/null
wait_log "$RD/domain-1.log" "blk: looping"
wait_log "$RD/blkback/blkback.log" "connected"
kill_bb
wait_log "$RD/domain-1.log" "blk: closed"
check "kill -9 back end: the guest sees it gone" "$RD/domain-1.log" "blk: backend gone"
check "kill -9 back end: no grant left" "$RD/domain-1.log" "blk: closed leaked=0"
i=0 # its pid file names a new process (10 s at most)
while [ $i -lt 100 ] && { [ "$(bb_pid)" = "$KILLED" ] || [ -z "$(bb_pid)" ]; }; do
	sleep 0.1
	i=$((i + 1))
done
if [ -n "$(bb_pid)" ] && [ "$(bb_pid)" != "$KILLED" ] && [ -d "/proc/$(bb_pid)" ]; then
	echo "ok - kill -9 back end: xenon-hvd starts another"
else
	echo "not ok - kill -9 back end: xenon-hvd starts another"; fail=1
fi

up kill-front
truncate -s 8M "$D/f.img"
cfg f.cfg "$D/f.img" "blk.mode=3"
timeout 10 "$X" $R create "$D/f.cfg" >/dev/null
wait_log "$RD/domain-1.log" "blk: looping"
wait_log "$RD/blkback/blkback.log" "connected"
P=$(guest_pid)
# The two probes below must see the port and the nodes while the guest
# lives, or their "gone" afterwards would prove nothing.
dom0_port() { "$X" $R evtchn 0 | grep -q "dom1:"; }
vbd_nodes() {
	XENSTORED_PATH="$RD/xenstore/socket" xenstore-ls /local/domain/0/backend/vbd |
		grep -q "51712"
}
if dom0_port && vbd_nodes; then
	echo "ok - kill -9 guest: before, dom0 holds its port and the vbd's nodes exist"
else
	echo "not ok - kill -9 guest: before, dom0 holds its port and the vbd's nodes exist"; fail=1
fi
[ -n "$P" ] && kill -9 "$P"
wait_log "$RD/blkback/blkback.log" "disconnected"
check "kill -9 guest: the back end disconnects" "$RD/blkback/blkback.log" "vbd 1/51712: disconnected"
# The back end logs its disconnect before it removes the vbd's nodes (as
# does the monitor, whichever comes first): both are polled, bounded.
if wait_until eval '! dom0_port'; then
	echo "ok - kill -9 guest: dom0 holds no port to it"
else
	echo "not ok - kill -9 guest: dom0 holds no port to it"; fail=1
fi
if wait_until eval '! vbd_nodes 2>/dev/null'; then
	echo "ok - kill -9 guest: the vbd's nodes are removed"
else
	echo "not ok - kill -9 guest: the vbd's nodes are removed"; fail=1
fi

up flush
truncate -s 8M "$D/d.img"
cfg d.cfg "$D/d.img" "blk.mode=2 blk.mib=4 blk.seed=7"
timeout 10 "$X" $R create "$D/d.cfg" >/dev/null
wait_log "$RD/domain-1.log" "blk: flushed"
P=$(guest_pid)
kill_bb
[ -n "$P" ] && kill -9 "$P"
down # xenon-hvd and its services: nothing may touch the image after this
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
	echo "ok - flush: every write answered before the flush is in the image file after both sides are killed (the page cache: a kill cannot test the disk)"
else
	echo "not ok - flush: every write answered before the flush is in the image file after both sides are killed (the page cache: a kill cannot test the disk)"; fail=1
fi
# Two vbds connected at once; the first one's guest dies: the other, listed
# after it, must go on being served (its request events still find it).
up two
truncate -s 8M "$D/a.img"
truncate -s 64M "$D/b.img"
cfg a.cfg "$D/a.img" "blk.mode=3"
cfg b.cfg "$D/b.img" "blk.mode=1 blk.mib=64" 2
timeout 10 "$X" $R create "$D/a.cfg" >/dev/null
wait_log "$RD/blkback/blkback.log" "vbd 1/51712: connected"
timeout 10 "$X" $R create "$D/b.cfg" >/dev/null
wait_log "$RD/blkback/blkback.log" "vbd 2/51712: connected"
P=$(guest_pid)
[ -n "$P" ] && kill -9 "$P"
wait_log "$RD/domain-2.log" "blk: closed"
first=$(grep -n "vbd 1/51712: disconnected" "$RD/blkback/blkback.log" | cut -d: -f1)
second=$(grep -n "vbd 2/51712: disconnected" "$RD/blkback/blkback.log" | cut -d: -f1)
if grep -q "blk: verify ok" "$RD/domain-2.log" && [ -n "$first" ] &&
	{ [ -z "$second" ] || [ "$first" -lt "$second" ]; }; then
	echo "ok - two vbds: the second verifies 64 MiB byte-exact across the first one's death"
else
	echo "not ok - two vbds: the second across the first one's death (verify: $(grep -c 'verify ok' "$RD/domain-2.log"), lines $first/$second)"
	fail=1
fi
# One vbd with an extended virtual-device number (xvdq: disk 16, 1<<28 |
# 16<<8): the directory names on both sides, end to end.
up extended
truncate -s 4M "$D/x.img"
cfg x.cfg "$D/x.img" "blk.mode=1 blk.mib=4 blk.vdev=268439552" 1 xvdq
timeout 10 "$X" $R create "$D/x.cfg" >/dev/null
wait_log "$RD/domain-1.log" "blk: closed"
check "extended vdev xvdq: 4 MiB byte-exact through device/vbd/268439552" \
	"$RD/domain-1.log" "blk: verify ok"
check "extended vdev xvdq: the back end served vbd 1/268439552" \
	"$RD/blkback/blkback.log" "vbd 1/268439552: connected"
exit $fail
