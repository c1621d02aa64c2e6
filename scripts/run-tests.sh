#!/bin/sh
# Runs every registered test suite of a build directory and prints the summary
# line "N passed, M failed" last. Test cases are counted from the TAP streams the
# suites emit (Criterion with --tap, the integration scripts, the corpus replays).
set -u
BUILD=${1:-build}
meson test -C "$BUILD" --num-processes 2 --print-errorlogs ${MESON_TEST_ARGS:-} >"$BUILD/test-run.log" 2>&1
rc=$?
grep -E '^ *[0-9]+/[0-9]+ ' "$BUILD/test-run.log" || true
[ $rc -ne 0 ] && sed -n '/^=* *[0-9]*\/[0-9]* .* FAIL/,/^====/p' "$BUILD/test-run.log" | tail -200
# meson's own FAIL blocks above already show what failed: the count only.
python3 "$(dirname "$0")/test-summary.py" --no-details "$BUILD/meson-logs/testlog.json"
src=$?
[ $rc -ne 0 ] && exit $rc
exit $src
