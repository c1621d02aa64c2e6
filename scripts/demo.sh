#!/bin/sh
# `make demo`: runs xenon's main job. Until `xenon demo` (process domains,
# issue 4) exists, this runs what is there, end to end and self-contained:
#   1. the seed-002 channel layout built in the hypervisor core,
#   2. the XenStore daemon in a private run dir, driven by Debian's real
#      xenstore-* clients and Xen's own test-xenstore suite.
# Everything runs in a temporary directory that is removed at the end.
set -eu
BUILD=${1:-build}
"$BUILD/tools/xenon" demo
