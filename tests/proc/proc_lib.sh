# Shared by the process-domain end-to-end scripts (sourced, not run).
#   PROC_NAME=NAME; . proc_lib.sh XENON_CLI GUESTS_DIR
# Gives X (the CLI), G (guests), D (a private dir removed at exit), fail,
# and: up PART [XENON-UP ARGS...] (a fresh xenon-hvd per part, run dir RD,
# CLI option R), down, check NAME FILE PATTERN, wait_log FILE PATTERN,
# wait_until COMMAND... (until it succeeds, 20 s at most: its status).
# On failure the daemon's and the domains' logs are printed at exit.
X=$1
G=$2
D=$(mktemp -d "/tmp/xenon-$PROC_NAME.XXXXXX")
fail=0
R=
down() {
	local pid
	[ -n "$R" ] || return 0
	timeout 10 "$X" $R down >/dev/null 2>&1
	pid=$(cat "$RD/hvd.pid" 2>/dev/null)
	# A daemon that did not stop: its process group, by its pid file -- if
	# that pid is still this run dir's xenon-hvd (a daemon killed outright
	# leaves the file, and pids wrap around).
	if [ -n "$pid" ] && grep -qzxF -- "$RD" "/proc/$pid/cmdline" 2>/dev/null; then
		kill -9 -- "-$pid" 2>/dev/null
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
up() { # part name, then options for `xenon up`
	local part=$1
	shift
	down
	RD="$D/$part"
	R="--run-dir $RD"
	timeout 20 "$X" $R up "$@" >/dev/null || { echo "Bail out! xenon up"; fail=1; exit 1; }
}
check() { # name, file, pattern
	if grep -q "$3" "$2" 2>/dev/null; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi
}
wait_log() { # file, pattern: until it appears (20 s at most)
	wait_until grep -q "$2" "$1" 2>/dev/null
}
wait_until() { # command...: until it succeeds (20 s at most); its status
	local i=0
	until "$@"; do
		[ $i -lt 200 ] || return 1
		sleep 0.1
		i=$((i + 1))
	done
}
