#!/bin/sh
# Installs the Debian packages xenon needs to build, test and run. Idempotent:
# only missing packages are installed, and apt-get update runs only when needed.
set -eu
PKGS="build-essential meson ninja-build pkg-config python3 libxen-dev libcriterion-dev
      xenstore-utils xen-utils-4.17 clang-14 libclang-rt-14-dev clang-format-14 valgrind"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
