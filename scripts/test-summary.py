#!/usr/bin/env python3
"""Sums the test cases of a meson test run from its testlog.json.

Every suite speaks TAP, so a case is one "ok"/"not ok" line. A suite that
failed without reporting a failing case (crash, timeout, bad exit) counts as
one more failure, so nothing is lost. Skipped cases ("# SKIP") are counted
apart. The last line printed is "N passed, M failed[, K skipped]".
"""
import json
import re
import sys

OK = re.compile(r'^ok\b(.*)$')
NOT_OK = re.compile(r'^not ok\b(.*)$')


def count(stdout):
    passed = failed = skipped = 0
    for line in stdout.splitlines():
        line = line.strip()
        m = NOT_OK.match(line)
        if m:
            if '# TODO' in m.group(1):
                passed += 1
            else:
                failed += 1
            continue
        m = OK.match(line)
        if m:
            if '# SKIP' in m.group(1).upper():
                skipped += 1
            else:
                passed += 1
    return passed, failed, skipped


def tally_tap_file(path):
    with open(path) as f:
        return count(f.read())


def main(paths):
    """Each argument is a meson testlog.json, or a plain TAP file (*.tap)."""
    passed = failed = skipped = 0
    for path in paths:
        if path.endswith('.tap'):
            p, fl, s = tally_tap_file(path)
            passed, failed, skipped = passed + p, failed + fl, skipped + s
            continue
        p, fl, s = tally_testlog(path)
        passed, failed, skipped = passed + p, failed + fl, skipped + s
    tail = f', {skipped} skipped' if skipped else ''
    print(f'{passed} passed, {failed} failed{tail}')
    return 1 if failed else 0


def tally_testlog(path):
    passed = failed = skipped = 0
    with open(path) as f:
        for raw in f:
            rec = json.loads(raw)
            p, fl, s = count(rec.get('stdout', '') or '')
            result = rec.get('result', '')
            if result in ('FAIL', 'TIMEOUT', 'ERROR', 'UNEXPECTEDPASS') and fl == 0:
                fl = 1
            if result == 'SKIP' and p + fl + s == 0:
                s = 1
            if result == 'OK' and p + fl + s == 0:
                p = 1
            passed, failed, skipped = passed + p, failed + fl, skipped + s
    return passed, failed, skipped


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:] or ['build/meson-logs/testlog.json']))
