# TAP helpers shared by the bash test scripts (source it; bash only):
#   ok DESC / not_ok DESC     one numbered result; N counts them, FAILED the
#                             failures (the caller prints the plan, 1..$N)
#   check DESC CMD...         ok if CMD succeeds, else not ok
#   quiet CMD...              CMD with its stdout kept out of the TAP stream
#   until_ok TRIES CMD...     CMD until it succeeds, at most TRIES times
#                             UNTIL_STEP seconds apart (default 0.05)
#   gone PID                  no such process, or a zombie
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
