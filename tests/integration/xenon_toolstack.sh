#!/bin/bash
# The xenon toolstack against the real daemons, in a private run dir: up
# (readiness through the CLI's own --ready-fd pipe), create from the seed-002
# configs, list --json, the store entries (Debian's xenstore-read), evtchn
# showing the seed-002 wiring, disk/vchan device entries (created with Xen's
# permissions, gone with destroy), pause/unpause, destroy, shutdown -w, reboot,
# kill -9 of a domain's process (it leaves list, its store nodes go, dom0's
# port reverts to unbound), graph, down (no process left), and `xenon demo'
# end to end. Bounded waits only; processes are checked by pid; logs are
# printed on failure.
# Usage: xenon_toolstack.sh PATH/TO/xenon PATH/TO/examples
set -u
XENON=$1
EXAMPLES=$2
D=$(mktemp -d "${TMPDIR:-/tmp}/xenon-ts.XXXXXX")
export XENON_RUN_DIR="$D/run"
export XENSTORED_PATH="$D/run/xenstore/socket"
PIDS=() # every process we saw: none may survive
. "$(dirname "$0")/../test_lib.sh"
# Still one of this run's processes (xenon-hvd and the domains inherit our
# environment): a pid seen long ago may be another process's by now (pids
# wrap around), which must be neither killed nor taken for a survivor. A
# zombie's environ reads empty: it is dead.
ours() { grep -qzxF "XENON_RUN_DIR=$D/run" "/proc/$1/environ" 2>/dev/null; }
UNTIL_STEP=0.1 # until_ok counts 100 ms tries here

finish() {
	"$XENON" down >/dev/null 2>&1
	for p in "${PIDS[@]}"; do ours "$p" && kill -9 "$p" 2>/dev/null; done
	tap_finish "$D" "$D"/run/hvd.log "$D"/run/hvd.stderr "$D"/run/monitor.log \
		"$D"/run/domain-*.log "$D"/run/xenstore/xenstored.log "$D"/*.out
}
trap 'finish; exit $?' EXIT

json_get() { # json_get PYTHON-EXPR: evaluated with d = xenon list --json
	"$XENON" list --json | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
pid_of() { json_get "[x['pid'] for x in d if x['name']=='$1'][0]" 2>/dev/null; }
in_list() { "$XENON" list --json | python3 -c "import json,sys; sys.exit(0 if any(x['name']=='$1' for x in json.load(sys.stdin)) else 1)"; }
not_in_list() { ! in_list "$1"; }
store_gone() { ! xenstore-read "/local/domain/$1/name" >/dev/null 2>&1; }
port_state() { "$XENON" evtchn "$1" | awk -v p="$2" '$2 == p { print $3, $5 }'; }
port_is() { [ "$(port_state "$1" "$2")" = "$3" ]; }

# ---- up ----
RESERVE=121:1,122:2,123:3,124:4,125:5,126:6
check "xenon up returns once ready" quiet "$XENON" up --dom0-reserve "$RESERVE"
HVD=$(cat "$D/run/hvd.pid" 2>/dev/null)
PIDS+=("$HVD")
# The run dir's one xenon-monitor (a service xenon-hvd started before its READY).
PIDS+=("$(cat "$D/run/monitor.pid" 2>/dev/null)")
check "one xenon-monitor runs, xenon-hvd's child" \
	test "$(awk '{ print $4 }' "/proc/${PIDS[-1]:-0}/stat" 2>/dev/null)" = "$HVD"
check "hvd.sock and the store socket exist" test -S "$D/run/hvd.sock" -a -S "$XENSTORED_PATH"
out=$("$XENON" up 2>&1)
check "a second up is refused (exit 1)" test $? = 1 -a -n "$(grep -F 'already running' <<<"$out")"
check "dom0 reserved 121 for dom1 (unbound)" port_is 0 121 "unbound accepts"

# ---- create ----
for n in 1 2 3 4; do
	out=$("$XENON" create "$EXAMPLES/seed002/domU$n.cfg" 2>&1)
	check "create domU$n.cfg" test "$out" = "created domain $n (dom$n)"
done
out=$("$XENON" create "$EXAMPLES/seed002/domU1.cfg" domid=9 2>&1)
check "a duplicate name is refused" test $? = 1 -a -n "$(grep -F "a domain named \`dom1' exists already" <<<"$out")"

check "list --json: dom0 and dom1..4 running, with processes" python3 - "$("$XENON" list --json)" <<'PY'
import json, sys
d = {x["name"]: x for x in json.loads(sys.argv[1])}
assert set(d) == {"Domain-0", "dom1", "dom2", "dom3", "dom4"}, d
assert d["Domain-0"]["privileged"] and d["Domain-0"]["domid"] == 0
for n in range(1, 5):
    x = d["dom%d" % n]
    assert x["domid"] == n and x["state"] == "running" and x["pid"] > 0, x
    assert x["memory_kib"] == 4096 and x["vcpus"] == 1, x
PY
for n in 1 2 3 4; do PIDS+=("$(pid_of dom$n)"); done

# ---- the store entries, read with Debian's client ----
check "store: name and domid" test "$(xenstore-read /local/domain/1/name /local/domain/1/domid)" = "dom1
1"
check "store: memory/target in KiB" test "$(xenstore-read /local/domain/1/memory/target)" = 4096
check "store: console type" test "$(xenstore-read /local/domain/1/console/type)" = xenconsoled
sp=$(xenstore-read /local/domain/1/store/port)
check "store: store/port is the domain's xenstore channel" \
	test "$("$XENON" evtchn 1 | awk -v p="$sp" '$2 == p { print $6 }')" = xenstore
check "store: home is dom0's, readable by the domain" \
	test "$(xenstore-ls -p /local/domain/1 | grep '^name ' | grep -o '(.*)')" = "(n0,r1)"
check "store: data/ is the domain's" test "$(xenstore-ls -p /local/domain/1 | grep '^data ' | grep -o '(.*)')" = "(n1)"

# ---- event channels: the seed-002 wiring ----
for n in 1 2 3 4; do
	check "evtchn 0: port $((120 + n)) interdomain with dom$n:127" \
		port_is 0 $((120 + n)) "interdomain dom$n:127"
done
check "evtchn 0: 125, 126 still reserved" port_is 0 126 "unbound accepts"
check "evtchn dom3 --json: 127 bound to dom0:123" python3 - "$("$XENON" evtchn --json dom3)" <<'PY'
import json, sys
p = {x["port"]: x for x in json.loads(sys.argv[1])}
assert p[127]["state"] == "interdomain" and p[127]["remote_domid"] == 0, p
assert p[127]["remote_port"] == 123, p
PY
check "graph: DOT with the dom0<->dom2 channel" \
	grep -qF 'd0 -> d2 [dir=both, label="122 <-> 127"];' <<<"$("$XENON" graph)"

# ---- devices: disk and vchan entries appear with create, vanish with destroy ----
mkdir -p "$D/dev" && head -c 1048576 /dev/zero >"$D/dev/disk.img" && : >"$D/dev/ro.img"
cat >"$D/dev/devices.cfg" <<CFG
name = "devdom"
kernel = "seed002-demo-domu"
memory = 4
disk = [ 'target=disk.img, vdev=xvda, access=rw, format=raw', 'ro.img,raw,xvdb,ro',
         'ro.img,raw,xvdq,ro' ]
vchan = [ 'name=echo, peer=dom2', 'name=ctl, peer=0' ]
CFG
perms_of() { xenstore-ls -p "${1%/*}" | grep "^${1##*/} " | grep -o '([^()]*)$'; }
out=$("$XENON" create -p "$D/dev/devices.cfg" 2>&1)
DD=$(sed -n 's/^created domain \([0-9]*\) (devdom), paused$/\1/p' <<<"$out")
check "create -p a domain with three disks and two vchans" test -n "$DD"
[ -n "$DD" ] || echo "# $out"
BE=/local/domain/0/backend/vbd/$DD/51712
FE=/local/domain/$DD/device/vbd/51712
check "disk: back end entries (params absolute, mode w, file, xvda)" test \
	"$(xenstore-read $BE/frontend $BE/frontend-id $BE/online $BE/params $BE/mode $BE/type \
		$BE/device-type $BE/dev $BE/removable $BE/bootable 2>&1)" = "$FE
$DD
1
$(realpath "$D/dev/disk.img")
w
file
disk
xvda
0
1"
check "disk: back end state Initialising (or InitWait if a back end runs)" \
	grep -qxE '1|2' <<<"$(xenstore-read $BE/state)"
check "disk: front end entries (virtual-device 202<<8)" test \
	"$(xenstore-read $FE/backend $FE/backend-id $FE/state $FE/virtual-device $FE/device-type 2>&1)" = "$BE
0
1
51712
disk"
check "disk: back dir dom0's, readable by the domain" test "$(perms_of $BE)" = "(n0,r$DD)"
check "disk: front dir the domain's, readable by dom0" test "$(perms_of $FE)" = "(n$DD,r0)"
check "disk: xvdb read-only, devid 51728" \
	test "$(xenstore-read /local/domain/0/backend/vbd/$DD/51728/mode)" = r
XQ=268439552 # xvdq: disk 16, the extended form 1<<28 | 16<<8
check "disk: xvdq's extended number names both directories" test \
	"$(xenstore-read /local/domain/0/backend/vbd/$DD/$XQ/dev \
		/local/domain/$DD/device/vbd/$XQ/virtual-device 2>&1)" = "xvdq
$XQ"
# Every node the toolstack wrote (and any a back end added since), against
# the permissions libxl gives: the last (most specific) matching rule wins. The
# toolstack sets them on directories only, the rest inherits.
check "every node of the domain has libxl's permissions" python3 - "$DD" \
	"$(xenstore-ls -f -p /local/domain/$DD; xenstore-ls -f -p /local/domain/0/backend;
	   xenstore-ls -f -p /tool/xenon/$DD)" <<'PY'
import re, sys
dd, dump = sys.argv[1], sys.argv[2]
home, be = "/local/domain/" + dd, "/local/domain/0/backend"
rules = [(home, "n0,r" + dd), (home + "/control/shutdown", "n" + dd)]
rules += [(home + "/" + d, "n" + dd) for d in ("data", "device", "error", "drivers", "attr", "feature")]
rules += [(home + "/data/vchan/2/echo", "n%s,r2" % dd), (home + "/data/vchan/0/ctl", "n%s,r0" % dd)]
rules += [(home + r"/device/(vbd|vchan)/\d+", "n%s,r0" % dd)]
rules += [(be + "/vbd", "n0"), (be + "/vbd/" + dd, "n0,r" + dd), ("/tool/xenon/" + dd, "n0")]
nodes = 0
for line in dump.splitlines():
    m = re.match(r"(/\S*) = .*\((\S*)\)$", line)
    assert m, line
    path, perms = m.groups()
    if path.startswith(be + "/vbd/") and not path.startswith(be + "/vbd/" + dd):
        continue  # another domain's
    want = [p for r, p in rules if re.match(r + "(/|$)", path)]
    assert want, path
    assert perms == want[-1], (path, perms, want[-1])
    nodes += 1
assert nodes > 80, nodes
PY
VC=/local/domain/$DD/data/vchan/2/echo
check "vchan: server dir the domain's, readable by the peer (dom2 by name)" \
	test "$(perms_of $VC)" = "(n$DD,r2)"
check "vchan: pairing recorded under device/vchan/0" test \
	"$(xenstore-read /local/domain/$DD/device/vchan/0/name /local/domain/$DD/device/vchan/0/peer \
		/local/domain/$DD/device/vchan/0/path 2>&1)" = "echo
2
$VC"
check "vchan: peer=0 dir readable by dom0" \
	test "$(perms_of /local/domain/$DD/data/vchan/0/ctl)" = "(n$DD,r0)"
check "destroy devdom" "$XENON" destroy devdom
check "destroy: back-end directories gone" \
	eval "! xenstore-ls /local/domain/0/backend/vbd/$DD >/dev/null 2>&1"
check "destroy: front end home gone" store_gone "$DD"
# A re-used domid: back-end directories of any type (and back-end error
# reports) that a dead domain left, written here by hand, go when the domid
# is created again; another domid's stay. (No back end serves vchan,
# console or vif here, so nothing else removes them meanwhile.)
OD=$((DD + 40))
B0=/local/domain/0/backend
xenstore-write $B0/vchan/$DD/0/state 4 $B0/console/$DD/0/state 4 $B0/vif/$DD/0/mac stale \
	/local/domain/0/error/backend/vbd/$DD/51712/error "5 stale" \
	/local/domain/$DD/device/vchan/7/name stale $B0/vif/$OD/0/mac other
out=$("$XENON" create -p "$D/dev/devices.cfg" domid=$DD 2>&1)
check "re-create devdom with the same domid" test "$out" = "created domain $DD (devdom), paused"
stale_gone() { ! xenstore-ls "$1" >/dev/null 2>&1; }
check "re-create: stale vchan, console and vif back-end dirs gone" eval \
	"stale_gone $B0/vchan/$DD && stale_gone $B0/console/$DD && stale_gone $B0/vif/$DD"
check "re-create: stale back-end error report gone" stale_gone /local/domain/0/error/backend/vbd/$DD
check "re-create: stale vchan record in the home gone" stale_gone /local/domain/$DD/device/vchan/7
check "re-create: this domain's own entries written" \
	test "$(xenstore-read $BE/mode /local/domain/$DD/device/vchan/0/name 2>&1)" = "w
echo"
check "re-create: another domid's back-end dir kept" test "$(xenstore-read $B0/vif/$OD/0/mac)" = other
xenstore-rm $B0/vif/$OD
xenstore-write /local/domain/0/error/backend/vbd/$DD/51712/error "5 late"
check "destroy devdom again" "$XENON" destroy devdom
check "destroy: back-end error reports about it gone" \
	stale_gone /local/domain/0/error/backend/vbd/$DD
# A domain with no devices at all re-using the domid clears them too.
xenstore-write $B0/vif/$DD/0/mac stale
out=$("$XENON" create -p "$D/dev/devices.cfg" domid=$DD 'name="nodev"' 'disk=[]' 'vchan=[]' 2>&1)
check "create a domain without devices on the same domid" \
	test "$out" = "created domain $DD (nodev), paused"
check "  its stale back-end dir is gone" stale_gone $B0/vif/$DD
check "  destroy it" "$XENON" destroy nodev
out=$("$XENON" create -p "$D/dev/devices.cfg" 'disk=["nothere.img,raw,xvda,rw"]' 2>&1)
check "a missing image is refused, naming the disk" test $? = 1 -a \
	-n "$(grep -F "disk \`xvda': image \`$D/dev/nothere.img': No such file" <<<"$out")"
out=$("$XENON" create -p "$D/dev/devices.cfg" 'disk=["disk.img,qcow2,xvda,rw"]' 2>&1)
check "a qcow2 disk is refused" test $? = 1 -a -n "$(grep -F "format \`qcow2' is not supported" <<<"$out")"
out=$("$XENON" create -p "$D/dev/devices.cfg" 'vchan=["name=x, peer=nobody"]' 2>&1)
check "a vchan peer that is no domain is refused" test $? = 1 -a \
	-n "$(grep -F "vchan \`x': peer \`nobody' is not a domain" <<<"$out")"
check "refused creations leave no domain" not_in_list devdom

# ---- grant counts in list --json: blkback's maps of a live vbd ----
# blk-guest (tests/blk, built after this folder: found through
# XENON_BLK_GUEST) runs blkfront on xvda; xenon-blkback, as dom0, maps its
# ring (and persistent grants). Destroying the granter drops those maps.
maps_of() { json_get "[x['grant_maps'] for x in d if x['domid']==$1][0]"; }
if [ -x "${XENON_BLK_GUEST:-}" ]; then
	M0=$(maps_of 0)
	printf 'name = "blkdom"\ntype = "process"\nkernel = "%s"\nmemory = 32\nvcpus = 1\ndisk = [ "%s,raw,xvda,rw" ]\nextra = "blk.mode=3"\n' \
		"$XENON_BLK_GUEST" "$D/dev/disk.img" >"$D/dev/blk.cfg"
	check "grants: create a domain using a vbd" quiet "$XENON" create "$D/dev/blk.cfg"
	BD=$(json_get "[x['domid'] for x in d if x['name']=='blkdom'][0]")
	check "grants: dom0 (blkback) holds maps of its ring (list --json grant_maps)" \
		until_ok 300 eval '[ "$(maps_of 0)" -gt "$M0" ]'
	check "grants: the granting domain holds none" test "$(maps_of "$BD")" = 0
	check "grants: destroy the granter" "$XENON" destroy blkdom
	check "grants: dom0's maps back to $M0" until_ok 300 eval '[ "$(maps_of 0)" = "$M0" ]'
else
	ok "grants: blk-guest maps # SKIP no XENON_BLK_GUEST"
fi

# ---- pause, unpause ----
"$XENON" pause dom4
check "pause: state paused" test "$(json_get "[x['state'] for x in d if x['domid']==4][0]")" = paused
"$XENON" unpause 4
check "unpause: state running" test "$(json_get "[x['state'] for x in d if x['domid']==4][0]")" = running

# ---- destroy ----
p2=$(pid_of dom2)
check "destroy dom2" "$XENON" destroy dom2
check "dom2 left list" not_in_list dom2
check "dom2's process is gone" until_ok 200 eval "! kill -0 $p2 2>/dev/null"
check "dom2's store home is gone" store_gone 2
check "dom0:122 reverts to unbound, accepting dom2" port_is 0 122 "unbound accepts"
check "re-creating dom2 binds again" quiet "$XENON" create "$EXAMPLES/seed002/domU2.cfg"
PIDS+=("$(pid_of dom2)")
check "dom0:122 interdomain again" port_is 0 122 "interdomain dom2:127"

# ---- shutdown -w, reboot ----
check "shutdown -w dom3" "$XENON" shutdown -w dom3
check "dom3 gone from list and store" eval "not_in_list dom3 && store_gone 3"
p4=$(pid_of dom4)
out=$("$XENON" reboot dom4 2>&1)
check "reboot dom4" test "$out" = "rebooted domain 4 (dom4)"
PIDS+=("$(pid_of dom4)")
check "dom4 runs again, a new process" test -n "$(pid_of dom4)" -a "$(pid_of dom4)" != "$p4"

# ---- a domain's process killed with -9 while it waits on dom0 ----
p1=$(pid_of dom1)
kill -9 "$p1"
check "kill -9: dom1 leaves list" until_ok 200 not_in_list dom1
check "kill -9: its store nodes go (xenon-monitor)" until_ok 200 store_gone 1
check "kill -9: dom0:121 reverts to unbound" port_is 0 121 "unbound accepts"

# ---- down ----
check "xenon down" "$XENON" down
alive=
# A zombie is dead: it only waits for init (its parent, `xenon up', is gone) to reap it.
for p in "${PIDS[@]}"; do
	ours "$p" && alive="$alive $p"
done
check "no process left (hvd, xenon-monitor and every domain, by pid)" test -z "$alive"
for p in $alive; do echo "#   alive: $(ps -o pid=,stat=,cmd= -p "$p")"; done
check "socket and pid file removed" test ! -e "$D/run/hvd.sock" -a ! -e "$D/run/hvd.pid"
check "down again: nothing there, exit 3" eval "\"$XENON\" down 2>/dev/null; test \$? = 3"

# ---- xenon demo, end to end ----
TMPDIR=$D timeout 120 "$XENON" demo --domains 6 --events 100 >"$D/demo.out" 2>&1
rc=$?
check "demo --domains 6 --events 100 exits 0" test "$rc" = 0
check "demo: every event accounted for" grep -q "^every event accounted for" "$D/demo.out"
check "demo: six seed-002 channels and the dynamic one" \
	test "$(grep -cE '^dom[1-6] +127 <-> dom0:12[1-6] +100 +100 +100 .* ok$' "$D/demo.out")" = 6 -a \
	-n "$(grep 'seed 001: dynamic' "$D/demo.out" | grep ' ok ')"
run=$(sed -n 's/^xenon demo: run dir \([^,]*\),.*/\1/p' "$D/demo.out")
dpid=$(sed -n 's/.*xenon-hvd pid \([0-9]*\);.*/\1/p' "$D/demo.out")
check "demo: its run dir is gone" test -n "$run" -a ! -e "$run"
check "demo: its xenon-hvd is gone" test -n "$dpid" -a -z "$(ps -o pid= -p "$dpid")"
check "demo: no guest process left" test -z "$(pgrep -f "$run" 2>/dev/null)"
[ "$rc" = 0 ] || cat "$D/demo.out" | sed 's/^/# /'
