#!/bin/bash
# The xenon CLI without the hypervisor daemon: help and usage errors (exit
# codes 0/2), the daemon-backed commands with no daemon refusing honestly (exit 3),
# `create --dry-run' on the seed-002 examples (text and JSON), overrides,
# and config errors reported as FILE:LINE:COL (exit 1).
# Usage: xenon_cli.sh PATH/TO/xenon PATH/TO/examples
set -u
XENON=$1
EXAMPLES=$2
T=$(mktemp -d "${TMPDIR:-/tmp}/xenon-cli.XXXXXX")
. "$(dirname "$0")/../test_lib.sh"

# expect DESC WANT_RC WANT_OUTPUT CMD...: exit code and stdout+stderr, exactly.
expect() {
	local desc=$1 want_rc=$2 want_out=$3 out rc
	shift 3
	out=$(timeout 10 "$@" 2>&1)
	rc=$?
	if [ "$rc" = "$want_rc" ] && [ "$out" = "$want_out" ]; then
		ok "$desc"
	else
		not_ok "$desc"
		echo "#   command: $*"
		echo "#   want rc=$want_rc output:"
		printf '%s\n' "$want_out" | sed 's/^/#     |/'
		echo "#   got  rc=$rc output:"
		printf '%s\n' "$out" | sed 's/^/#     |/'
	fi
}

# expect_rc_grep DESC WANT_RC PATTERN CMD...: exit code, and PATTERN in the output.
expect_rc_grep() {
	local desc=$1 want_rc=$2 pattern=$3 out rc
	shift 3
	out=$(timeout 10 "$@" 2>&1)
	rc=$?
	if [ "$rc" = "$want_rc" ] && grep -qF -- "$pattern" <<<"$out"; then
		ok "$desc"
	else
		not_ok "$desc"
		echo "#   command: $*  (rc=$rc, want $want_rc, pattern: $pattern)"
		printf '%s\n' "$out" | sed 's/^/#     |/'
	fi
}

trap 'tap_finish "$T"; exit $?' EXIT

# ---- help and usage ----
expect_rc_grep "xenon --help lists every command" 0 "  graph     print domains" "$XENON" --help
expect_rc_grep "xenon help lists every command" 0 "  console   attach to a domain's console (Ctrl-] detaches)" "$XENON" help
expect "xenon help create" 0 "usage: xenon create [-n|--dry-run] [--json] [-p] CONFIG [KEY=VALUE...]
Create a domain from an xl.cfg(5) file.

  -n, --dry-run  parse and check CONFIG, print the domain it describes, create nothing
  --json         with --dry-run: print it as JSON
  -p, --paused   leave the new domain paused
  KEY=VALUE      extra settings in xl.cfg syntax, overriding CONFIG's
                 (e.g. memory=64 'name=\"web\"')" "$XENON" help create
expect "xenon destroy --help" 0 "usage: xenon destroy DOMAIN
Destroy a domain at once." "$XENON" destroy --help
expect "xenon evtchn -h" 0 "usage: xenon evtchn [--json] [DOMAIN]
List event channel ports and their states.

  --json  one JSON array of ports" "$XENON" evtchn -h
expect_rc_grep "no command: usage, exit 2" 2 "usage: xenon [--run-dir DIR] COMMAND [ARGS...]" "$XENON"
expect "unknown command: exit 2" 2 "xenon: unknown command \`frob' (see \`xenon help')" "$XENON" frob
expect "help for an unknown command: exit 2" 2 "xenon: help: unknown command \`frob' (see \`xenon help')" "$XENON" help frob
expect_rc_grep "unknown global option: exit 2" 2 "usage: xenon" "$XENON" --frob list
expect "create without CONFIG: exit 2" 2 "xenon: create: no CONFIG file given
usage: xenon create [-n|--dry-run] [--json] [-p] CONFIG [KEY=VALUE...]" "$XENON" create
expect "create --json without --dry-run: exit 2" 2 "xenon: create: --json goes with --dry-run
usage: xenon create [-n|--dry-run] [--json] [-p] CONFIG [KEY=VALUE...]" "$XENON" create --json x.cfg
expect_rc_grep "xenon version" 0 "(Xen interface 0x00040e00)" "$XENON" version
expect_rc_grep "xenon --version" 0 "xenon " "$XENON" --version

# ---- with no xenon-hvd in the run dir: exit 3, no pretending ----
export XENON_RUN_DIR="$T/no-daemon"
for cmd in list destroy pause unpause shutdown reboot evtchn; do
	expect_rc_grep "$cmd without a daemon: exit 3" 3 \
		"xenon: $cmd: no hypervisor daemon in $T/no-daemon (is \`xenon up' running?)" \
		"$XENON" $cmd dom1
done
expect_rc_grep "graph without a daemon: exit 3" 3 "xenon: graph: no hypervisor daemon" "$XENON" graph
expect "down without a daemon: exit 3" 3 "xenon: down: no xenon-hvd running in $T/no-daemon" \
	"$XENON" down
expect_rc_grep "console without a daemon: exit 3" 3 "xenon: console: no hypervisor daemon" \
	"$XENON" console dom1
expect_rc_grep "create (not dry-run) checks the config, then needs the daemon" 3 \
	"xenon: create: no hypervisor daemon in $T/no-daemon" \
	"$XENON" create "$EXAMPLES/seed002/domU1.cfg"
unset XENON_RUN_DIR

# ---- create --dry-run on the seed-002 examples ----
for n in 1 2 3 4 5 6; do
	p=$((120 + n))
	expect "dry-run domU$n.cfg" 0 "name                dom$n
type                process
domid               $n
kernel              seed002-demo-domu
cmdline             seed002.port=127 seed002.events=10
memory              4 MiB (1024 pages)
maxmem              4 MiB (1024 pages)
vcpus               1 (max 1)
on_poweroff         destroy
on_reboot           restart
on_crash            preserve
max_event_channels  (hypervisor default)
max_grant_frames    (hypervisor default)
evtchn_bind         port 127 <-> dom0 port $p" "$XENON" create --dry-run "$EXAMPLES/seed002/domU$n.cfg"
done

json=$("$XENON" create -n --json "$EXAMPLES/seed002/domU2.cfg" 2>&1)
if python3 - "$json" <<'PY'; then ok "dry-run --json is JSON with the wiring"; else not_ok "dry-run --json is JSON with the wiring"; fi
import json, sys
d = json.loads(sys.argv[1])
assert d["name"] == "dom2" and d["domid"] == 2 and d["nr_pages"] == 1024, d
assert d["evtchn_reserve"] == [], d
assert d["evtchn_bind"] == [{"port": 127, "remote": 0, "remote_port": 122}], d
assert d["disk"] == [] and d["vchan"] == [] and d["max_grant_frames"] is None, d
PY

expect_rc_grep "dry-run the devices example" 0 "disk                xvda: guest.img rw" \
	"$XENON" create -n "$EXAMPLES/devices.cfg"
json=$("$XENON" create -n --json "$EXAMPLES/devices.cfg" 2>&1)
if python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["vchan"][0]["role"]=="server" and d["disk"][1]["access"]=="ro"' "$json"; then
	ok "devices example as JSON"
else
	not_ok "devices example as JSON"
fi

# ---- overrides and errors ----
expect_rc_grep "KEY=VALUE overrides the file" 0 "memory              64 MiB (16384 pages)" \
	"$XENON" create -n "$EXAMPLES/seed002/domU1.cfg" memory=64 maxmem=64
expect "a bad override names the command line" 1 \
	"xenon: create: command line:1:6: expected a value for \`name', found \`web' (strings need quotes)" \
	"$XENON" create -n "$EXAMPLES/seed002/domU1.cfg" name=web
expect "an override without =" 1 "xenon: create: command line: \`memory' is not a KEY=VALUE setting" \
	"$XENON" create -n "$EXAMPLES/seed002/domU1.cfg" memory

printf 'name = "bad"\nkernel = "k"\nmemory = [ 1,\n  2 x ]\n' >"$T/syntax.cfg"
expect "syntax error: FILE:LINE:COL, exit 1" 1 \
	"xenon: create: $T/syntax.cfg:4:5: expected \`,' or \`]' in list, found \`x'" \
	"$XENON" create -n "$T/syntax.cfg"
printf 'name = "bad"\nkernel = "k"\ntype = "pvh"\n' >"$T/pvh.cfg"
expect "type pvh is refused clearly" 1 \
	"xenon: create: $T/pvh.cfg:3:8: type \"pvh\" is not supported yet: xenon runs \"process\" domains (KVM guests come later)" \
	"$XENON" create -n "$T/pvh.cfg"
printf 'name = "w"\nkernel = "k"\nvif = [ "bridge=xenbr0" ]\n' >"$T/warn.cfg"
expect_rc_grep "unknown keys are warned about" 0 "$T/warn.cfg:3:1: warning: unknown key \`vif' ignored" \
	"$XENON" create -n "$T/warn.cfg"
expect "a missing file" 1 "xenon: create: $T/none.cfg: cannot open: No such file or directory" \
	"$XENON" create -n "$T/none.cfg"
