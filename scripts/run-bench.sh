#!/bin/sh
# Runs every benchmark of a build, then the core benchmarks once more under
# callgrind for instructions per operation (repeatable on a noisy machine).
# Usage: run-bench.sh BUILD_DIR
set -u
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
for b in "$BUILD"/bench/bench-*; do
	[ -f "$b" ] && [ -x "$b" ] || continue
	name=${b##*/}
	case $name in
	bench-xs) "$b" "$BUILD/dom0/xenstored/xenon-xenstored" ;;
	*) "$b" ;;
	esac
done
command -v valgrind >/dev/null || exit 0
for b in "$BUILD"/bench/bench-hv-*; do
	[ -f "$b" ] && [ -x "$b" ] || continue
	out=$(mktemp -d)
	valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out/cg.%p" \
		"$b" --callgrind >"$out/stdout" 2>"$out/stderr" || { cat "$out/stderr"; continue; }
	python3 "$TOP/scripts/callgrind-per-op.py" "$out"
	rm -rf "$out"
done
