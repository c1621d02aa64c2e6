# Shared helpers for the XenStore integration scripts (sourced, not run).
#
# Each script: xs_start "$daemon" starts xenon-xenstored in a private run dir
# and waits for its --ready-fd line (no sleeping); tap_* print TAP cases; the
# EXIT trap stops the daemon by pid, prints the plan, and dumps the daemon log
# as TAP comments when anything failed.

XS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/xenon-xsd.XXXXXX")
XS_PID=
TAP_N=0
TAP_FAILED=0

tap_ok() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1"
}

tap_not_ok() {
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $1"
}

# tap_check DESC CMD...: one case, passing if CMD succeeds.
tap_check() {
	local desc=$1
	shift
	if "$@"; then tap_ok "$desc"; else tap_not_ok "$desc"; fi
}

# tap_expect DESC WANT_RC WANT_OUTPUT CMD...: runs CMD (stdout and stderr
# together, 10 s at most) and compares its exit code and output exactly.
tap_expect() {
	local desc=$1 want_rc=$2 want_out=$3 out rc
	shift 3
	out=$(timeout 10 "$@" 2>&1)
	rc=$?
	if [ "$rc" = "$want_rc" ] && [ "$out" = "$want_out" ]; then
		tap_ok "$desc"
	else
		tap_not_ok "$desc"
		echo "#   command: $*"
		echo "#   want rc=$want_rc output:"
		printf '%s\n' "$want_out" | sed 's/^/#     |/'
		echo "#   got  rc=$rc output:"
		printf '%s\n' "$out" | sed 's/^/#     |/'
	fi
}

xs_dump_log() {
	echo "# ---- daemon log ($XS_DIR/xenstored.log) ----"
	sed 's/^/# /' "$XS_DIR/xenstored.log" 2>/dev/null | tail -200
}

xs_finish() {
	local rc=$?
	if [ -n "$XS_PID" ] && kill -0 "$XS_PID" 2>/dev/null; then
		kill "$XS_PID" 2>/dev/null
		wait "$XS_PID" 2>/dev/null
	fi
	[ "$TAP_FAILED" -gt 0 ] && xs_dump_log
	echo "1..$TAP_N"
	rm -rf "$XS_DIR"
	[ "$TAP_FAILED" -eq 0 ] && exit 0
	exit 1
}
trap xs_finish EXIT

# xs_start DAEMON [ARGS...]: start the daemon and wait for "READY".
xs_start() {
	local line=
	mkfifo "$XS_DIR/ready" || return 1
	"$@" --run-dir "$XS_DIR" --ready-fd 3 -v 3>"$XS_DIR/ready" &
	XS_PID=$!
	read -r -t 10 line <"$XS_DIR/ready"
	export XENSTORED_PATH="$XS_DIR/socket"
	[ "$line" = "READY" ]
}

# xs_stop: SIGTERM, then check the daemon exits 0 and removes its files.
xs_stop() {
	local rc
	kill "$XS_PID" || return 1
	# Bounded: the daemon gets 10 s to exit on its own.
	timeout 10 tail --pid="$XS_PID" -f /dev/null || return 1
	wait "$XS_PID"
	rc=$?
	XS_PID=
	[ "$rc" = 0 ] && [ ! -e "$XS_DIR/socket" ] && [ ! -e "$XS_DIR/xenstored.pid" ]
}
