#!/bin/sh
# Runs every libFuzzer target of a -Dfuzz=true build for a bounded time each,
# starting from a scratch copy of its committed corpus. Writes BUILD/fuzz.tap
# (one case per target) for the final summary. A crash leaves its input in
# BUILD/crash-NAME-*: commit it to fuzz/corpus/NAME/ with the fix.
# Usage: run-fuzz.sh BUILD_DIR SECONDS_PER_TARGET
set -u
BUILD=${1:-build-fuzz}
SECS=${2:-10}
TOP=$(cd "$(dirname "$0")/.." && pwd)
TAP="$BUILD/fuzz.tap"
n=0
rc=0
: >"$TAP.body"
for f in "$BUILD"/fuzz/fuzz-*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	n=$((n + 1))
	name=${f##*/fuzz-}
	work=$(mktemp -d)
	[ -d "$TOP/fuzz/corpus/$name" ] && cp -r "$TOP/fuzz/corpus/$name/." "$work/"
	if timeout $((SECS + 60)) "$f" -max_total_time="$SECS" -rss_limit_mb=2048 \
		-artifact_prefix="$BUILD/crash-$name-" "$work" >"$BUILD/fuzz-$name.log" 2>&1; then
		runs=$(grep -o 'Done [0-9]* runs' "$BUILD/fuzz-$name.log" | tail -1)
		echo "ok $n - fuzz $name ${SECS}s (${runs:-?})" >>"$TAP.body"
		echo "fuzz: $name ok (${runs:-?})"
	else
		echo "not ok $n - fuzz $name (log: $BUILD/fuzz-$name.log)" >>"$TAP.body"
		echo "fuzz: $name FAILED"
		tail -40 "$BUILD/fuzz-$name.log"
		rc=1
	fi
	rm -rf "$work"
done
{ echo "1..$n"; cat "$TAP.body"; } >"$TAP"
rm -f "$TAP.body"
exit $rc
