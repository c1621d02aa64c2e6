#!/usr/bin/env python3
"""Sums the test cases of a meson test run from its testlog.json.

Every suite speaks TAP, so a case is one "ok"/"not ok" line. A suite that
failed without reporting a failing case (crash, timeout, bad exit) counts as
one more failure, so nothing is lost. Skipped cases ("# SKIP") are counted
apart. Each failed suite is named first, with its failing cases and the end
of its output, so a short tail of the log still says what failed. The last
line printed is "N passed, M failed[, K skipped]".
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


def failing_lines(stdout, limit=12):
    """The "not ok" lines of a TAP stream, each with its diagnostics."""
    out = []
    lines = stdout.splitlines()
    for i, line in enumerate(lines):
        m = NOT_OK.match(line.strip())
        if not m or '# TODO' in m.group(1):
            continue
        out.append(line.strip())
        for diag in lines[i + 1:i + 7]:
            if not diag.lstrip().startswith('#'):
                break
            out.append('  ' + diag.strip())
        if len(out) >= limit:
            out.append('  ...')
            break
    return out


DETAILS = True  # --no-details: the count only (the caller showed them)


def report_failure(where, what, stdout, stderr=''):
    if not DETAILS:
        return
    print(f'FAILED {where}: {what}')
    for line in failing_lines(stdout):
        print(f'  {line}')
    tail = (stdout.rstrip().splitlines() + stderr.rstrip().splitlines())[-15:]
    if tail:
        print('  --- last lines of its output ---')
        for line in tail:
            print(f'  | {line[:200]}')


def tally_tap_file(path):
    with open(path) as f:
        text = f.read()
    p, fl, s = count(text)
    if fl:
        report_failure(path, 'fuzz runs', text)
    return p, fl, s


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
            if fl:
                report_failure(path, f"{rec.get('name', '?')} ({result}, "
                               f"{rec.get('duration', 0):.0f} s)",
                               rec.get('stdout', '') or '',
                               rec.get('stderr', '') or '')
            passed, failed, skipped = passed + p, failed + fl, skipped + s
    return passed, failed, skipped


if __name__ == '__main__':
    args = sys.argv[1:]
    if '--no-details' in args:
        DETAILS = False
        args.remove('--no-details')
    sys.exit(main(args or ['build/meson-logs/testlog.json']))
