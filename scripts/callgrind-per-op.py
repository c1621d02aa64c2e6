#!/usr/bin/env python3
"""Instructions per operation from a callgrind run of a benchmark.

The benchmark prints "callgrind-ops NAME OPS" after each bracketed section and
callgrind dumps one profile part per section (CALLGRIND_DUMP_STATS_AT(NAME)).
Each part's "summary:"/"totals:" Ir divided by OPS is printed as
"NAME: X instructions per op (callgrind)".
"""
import glob
import os
import re
import sys

out = sys.argv[1]
ops = {}
with open(os.path.join(out, 'stdout')) as f:
    for line in f:
        m = re.match(r'callgrind-ops (\S+) (\d+)', line)
        if m:
            ops[m.group(1)] = int(m.group(2))
for path in sorted(glob.glob(os.path.join(out, 'cg.*'))):
    trigger = total = None
    with open(path) as f:
        for line in f:
            if line.startswith('desc: Trigger:'):
                trigger = line.split('Client Request:', 1)[-1].strip()
            elif line.startswith('totals:') or line.startswith('summary:'):
                total = int(line.split()[1])
    if trigger in ops and total is not None and ops[trigger]:
        print(f'{trigger}: {total / ops[trigger]:.0f} instructions per op (callgrind)')
