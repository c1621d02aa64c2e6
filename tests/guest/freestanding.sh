#!/bin/sh
# The guest library's "freestanding-clean" claim (guest/xen_guest.h,
# guest/meson.build), checked the way a KVM guest kernel would build it:
#
#   freestanding.sh GUEST_SOURCE...      CC, NM from the environment
#
# 1. every source compiles with -ffreestanding -fno-builtin and no system
#    headers (-nostdinc): only the compiler's own (stddef.h, stdint.h,
#    stdbool.h, stdarg.h), Xen's ABI headers (<xen/...>) and the guest
#    headers. __STDC_HOSTED__ is 0 there, so the E* names come from Xen's
#    <xen/errno.h>: a code Xen's table lacks (EPROTO, EPIPE) fails here;
# 2. the objects together reference no symbol they do not define, except
#    the four a freestanding C compiler may emit calls to (memcpy, memset,
#    memmove, memcmp: a kernel provides them) and the linker's own
#    _GLOBAL_OFFSET_TABLE_ (a thread-local's access names it);
# 3. the check itself can fail: a probe calling strlen() and one using
#    EPROTO are caught.
#
# Xen's <xen/io/libxenvchan.h> includes <sys/types.h> and uses nothing from
# it; the private include directory gives it an empty one, as a kernel's
# own sys/types.h would stand in.
set -u
CC=${CC:-cc}
NM=${NM:-nm}
XEN_INCDIR=${XEN_INCDIR:-/usr/include}
ALLOWED="memcpy memset memmove memcmp _GLOBAL_OFFSET_TABLE_"

T=$(mktemp -d "${TMPDIR:-/tmp}/xenon-freestanding.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; }

if [ $# -eq 0 ]; then
	echo "1..0 # SKIP no sources given"
	exit 0
fi
GUEST_DIR=$(dirname "$1")
# shellcheck disable=SC2086 # CC may be "ccache cc"
CC_INC=$($CC -print-file-name=include)
mkdir -p "$T/inc/sys" "$T/obj" "$T/probe"
ln -s "$XEN_INCDIR/xen" "$T/inc/xen"
: >"$T/inc/sys/types.h"

# As meson.build's project arguments, minus the hosted ones.
cc_free() { # out, source
	# shellcheck disable=SC2086
	$CC -std=gnu11 -O2 -ffreestanding -fno-builtin -nostdinc -isystem "$CC_INC" \
		-I"$T/inc" -I"$GUEST_DIR" -D__XEN_INTERFACE_VERSION__=0x00040e00 \
		-fno-pic -fno-stack-protector -Wall -Wextra -Wno-unused-parameter -Werror \
		-c "$2" -o "$1" 2>"$1.err"
}

# Symbols the objects need from outside themselves, beyond ALLOWED.
foreign_symbols() { # objects...
	"$NM" -P -g "$@" | awk -v allowed="$ALLOWED" '
		BEGIN { split(allowed, a, " "); for (i in a) ok[a[i]] = 1 }
		NF >= 2 && $2 ~ /^[Uwv]$/ { und[$1] = 1; next }
		NF >= 2 { def[$1] = 1 }
		END { for (s in und) if (!(s in def) && !(s in ok)) print s }' | sort
}

echo "1..$(($# + 3))"
objs=""
for src in "$@"; do
	o="$T/obj/$(basename "$src" .c).o"
	if cc_free "$o" "$src"; then
		ok "compiles freestanding: $(basename "$src")"
		objs="$objs $o"
	else
		not_ok "compiles freestanding: $(basename "$src")"
		sed 's/^/# /' "$o.err" | head -20
	fi
done

# shellcheck disable=SC2086
bad=$(foreign_symbols $objs)
if [ -n "$objs" ] && [ -z "$bad" ]; then
	ok "no symbol from outside but $ALLOWED"
else
	not_ok "no symbol from outside but $ALLOWED"
	echo "$bad" | sed 's/^/# needs: /'
fi

# The controls: what the check exists to catch, caught.
cat >"$T/probe/calls_strlen.c" <<'EOF'
#include <stddef.h>
size_t probe_len(const char *s);
size_t probe_len(const char *s)
{
	return __builtin_strlen(s);
}
EOF
cat >"$T/probe/uses_eproto.c" <<'EOF'
#include "xg_internal.h"
int probe_err(void);
int probe_err(void)
{
	return -EPROTO;
}
EOF
if cc_free "$T/probe/strlen.o" "$T/probe/calls_strlen.c" &&
	[ "$(foreign_symbols "$T/probe/strlen.o")" = strlen ]; then
	ok "control: a strlen() call is caught"
else
	not_ok "control: a strlen() call is caught"
fi
if ! cc_free "$T/probe/eproto.o" "$T/probe/uses_eproto.c" &&
	grep -q EPROTO "$T/probe/eproto.o.err"; then
	ok "control: EPROTO (not in Xen's table) does not compile"
else
	not_ok "control: EPROTO (not in Xen's table) does not compile"
fi
exit $fail
