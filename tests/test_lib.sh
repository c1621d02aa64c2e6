# TAP helpers shared by the bash test scripts (source it; bash only):
#   ok DESC / not_ok DESC     one numbered result; N counts them, FAILED the
#                             failures (the caller prints the plan, 1..$N)
#   check DESC CMD...         ok if CMD succeeds, else not ok
#   quiet CMD...              CMD with its stdout kept out of the TAP stream
#   until_ok TRIES CMD...     CMD until it succeeds, at most TRIES times
#                             UNTIL_STEP seconds apart (default 0.05)
#   gone PID                  no such process, or a zombie
# For scripts that run xenon daemons, whose every process inherits $TAG
# (NAME=VALUE in its environment; leftovers are found by it, never by a
# pid written long before, which may be another process's by then):
#   tagged                    the live pids carrying $TAG, sorted (a
#                             zombie's environ reads empty)
#   live_tagged [COMM]        of those, the ones not gone (whose comm is
#                             COMM, if given)
#   kill_tagged               SIGKILL to each of them
#   tap_finish DIR [LOG...]   the end of a script: if a check failed, the
#                             last lines of each non-empty LOG as TAP
#                             comments; the plan; DIR removed; status 0
#                             if no check failed
N=0 FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $1"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $1"; }
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
quiet() { "$@" >/dev/null; }
until_ok() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep "${UNTIL_STEP:-0.05}"
	done
	return 1
}
gone() {
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
	[ "$st" = Z ]
}
ppid_of() { awk '{ print $4 }' "/proc/$1/stat" 2>/dev/null; }
tagged() { grep -lzxF "$TAG" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | sort -n; }
live_tagged() {
	local p
	for p in $(tagged); do
		[ $# = 0 ] || [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$1" ] || continue
		gone "$p" || echo "$p"
	done
}
kill_tagged() {
	local p
	for p in $(tagged); do kill -9 "$p" 2>/dev/null; done
}
tap_finish() {
	local dir=$1 f
	shift
	if [ "$FAILED" -gt 0 ]; then
		for f in "$@"; do
			[ -s "$f" ] || continue
			echo "# ---- $f ----"
			tail -40 "$f" | sed 's/^/# /'
		done
	fi
	echo "1..$N"
	rm -rf "$dir"
	[ "$FAILED" -eq 0 ]
}
