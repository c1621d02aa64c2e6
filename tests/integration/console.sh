#!/bin/bash
# The console back end (xenon-consoled) end to end, in a private run dir. TAP.
#   console.sh XENON XENON_HVD GUESTS_DIR
#
# 1. Flow control: a guest printks 200 KiB through the 2 KiB ring; dN.log
#    holds every byte, exactly (the guest blocks on a full ring, never drops).
# 2. `xenon console` with piped input reaches the echo guest, its uppercased
#    reply comes back; Ctrl-] (0x1d) through the pipe detaches with exit 0.
# 3. "quit": the guest powers off, the attached session ends with exit 1.
# 4. kill -9 of xenon-consoled: xenon-hvd logs it and restarts it; the new
#    one serves a new domain.
# 5. `xenon console` of a domain whose console is not served yet waits for
#    it; the domain destroyed meanwhile ends the wait: exit 1, "is gone".
set -u
XENON=$(realpath "$1") HVD=$(realpath "$2") GUESTS=$(realpath "$3")
T=$(mktemp -d "${TMPDIR:-/tmp}/console.XXXXXX")
export XENON_RUN_DIR="$T/run" XENON_HVD="$HVD"
S=
. "$(dirname "$0")/../test_lib.sh"
finish() {
	[ -n "$S" ] && kill "$S" 2>/dev/null
	timeout 20 "$XENON" down >/dev/null 2>&1
	tap_finish "$T" "$XENON_RUN_DIR"/hvd.log "$XENON_RUN_DIR"/console/consoled.log \
		"$XENON_RUN_DIR"/domain-*.log "$T"/out* "$T"/err*
}
trap 'finish; exit $?' EXIT
trap '' PIPE # a fifo whose reader is gone: a failed check, not a dead script

cfg() { # file name extra
	printf 'name = "%s"\ntype = "process"\nkernel = "%s"\nmemory = 4\nvcpus = 1\nextra = "%s"\n' \
		"$2" "$GUESTS/echo" "$3" >"$T/$1"
}
domid_of() { "$XENON" list | awk -v n="$1" '$1 == n { print $2 }'; }
consoled_pid() { pgrep -f "xenon-consoled --run-dir $XENON_RUN_DIR" | head -1; }

check "xenon up (xenstored and consoled ready)" quiet timeout 30 "$XENON" up
check "consoled is running" test -n "$(consoled_pid)"

# ---- 1. flow control: 200 KiB, byte-exact ----
SIZE=204800
cfg flood.cfg flood "echo.flood=$SIZE"
check "create the flood guest" quiet timeout 10 "$XENON" create "$T/flood.cfg"
D=$(domid_of flood)
LOG="$XENON_RUN_DIR/console/d${D:-1}.log"
check "dN.log reaches $SIZE bytes" until_ok 400 eval "[ \"\$(stat -c %s '$LOG' 2>/dev/null)\" = $SIZE ]"
awk 'BEGIN { s = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234";
	for (i = 0; i * 64 < '$SIZE'; i++) printf "%07u %s\n", i, s }' | head -c $SIZE >"$T/expect"
check "dN.log is byte-exact (nothing lost, nothing doubled)" cmp -s "$T/expect" "$LOG"

# ---- 2. interactive: input reaches the guest, output comes back, ^] detaches ----
cfg echo.cfg echo ""
check "create the echo guest" quiet timeout 10 "$XENON" create "$T/echo.cfg"
E=$(domid_of echo)
mkfifo "$T/in"
timeout 30 "$XENON" console "$E" <"$T/in" >"$T/out" 2>"$T/err" &
S=$!
exec 7>"$T/in"
printf 'hello console\n' >&7
check "the echo guest's reply comes back" until_ok 200 grep -q "HELLO CONSOLE" "$T/out"
check "the reply is in dN.log too" grep -q "HELLO CONSOLE" "$XENON_RUN_DIR/console/d$E.log"
printf 'abc\x1ddef\n' >&7
wait "$S"
rc=$?
S=
exec 7>&-
check "Ctrl-] detaches: exit 0" test "$rc" = 0

# ---- 3. the domain going away ends a session: exit 1 ----
timeout 30 "$XENON" console "$E" <"$T/in" >"$T/out2" 2>"$T/err2" &
S=$!
exec 7>"$T/in"
printf 'x\n' >&7  # ABCX: the earlier "abc" is still in the guest's line
check "second session attached" until_ok 200 grep -q "ABCX" "$T/out2"
printf 'quit\n' >&7
wait "$S"
rc=$?
S=
exec 7>&-
check "guest quits: the session ends with exit 1" test "$rc" = 1
check "bytes after Ctrl-] never reached the guest" eval "! grep -q DEF '$T/out2'"
check "the guest's last words are logged" until_ok 100 grep -q "echo: bye" "$XENON_RUN_DIR/console/d$E.log"
check "its socket is gone, its log kept" until_ok 100 eval "[ ! -e '$XENON_RUN_DIR/console/d$E.sock' ] && [ -s '$XENON_RUN_DIR/console/d$E.log' ]"

# ---- 4. kill -9 of consoled: logged, restarted ----
P=$(consoled_pid)
kill -9 "$P"
check "kill -9: xenon-hvd logs consoled's death" until_ok 100 grep -q "consoled exited" "$XENON_RUN_DIR/hvd.log"
check "kill -9: consoled restarted" until_ok 100 eval '[ -n "$(consoled_pid)" ] && [ "$(consoled_pid)" != '"$P"' ]'
cfg flood2.cfg flood2 "echo.flood=4096"
# Domids are reused (lowest free) and this guest powers off at once, gone
# from `xenon list`: its domid is the one create reports, and its log may be
# an earlier domain's, appended to.
sizes() { for f in "$XENON_RUN_DIR"/console/d*.log; do [ -e "$f" ] && echo "$f $(stat -c %s "$f")"; done; }
sizes >"$T/sizes"
check "create a guest after the restart" eval 'timeout 10 "$XENON" create "$T/flood2.cfg" >"$T/created"'
D2=$(sed -n 's/^created domain \([0-9]*\) .*/\1/p' "$T/created")
LOG2="$XENON_RUN_DIR/console/d${D2:-99}.log"
WANT=$(($(awk -v f="$LOG2" '$1 == f { print $2 }' "$T/sizes") + 4096))
check "the new consoled serves it" until_ok 200 eval "[ \"\$(stat -c %s '$LOG2' 2>/dev/null)\" = $WANT ]"

# ---- 5. attaching waits for the console while the domain exists ----
cfg echo2.cfg echo2 ""
check "create another echo guest" quiet timeout 10 "$XENON" create "$T/echo2.cfg"
E2=$(domid_of echo2)
SOCK2="$XENON_RUN_DIR/console/d${E2:-99}.sock"
check "  its console is served" until_ok 200 test -S "$SOCK2"
rm -f "$SOCK2" # as if consoled had not served it yet
timeout 30 "$XENON" console "$E2" </dev/null >"$T/out3" 2>"$T/err3" &
S=$!
check "  an attach waits for the socket" eval '! until_ok 10 eval "! kill -0 $S 2>/dev/null"'
check "  the domain destroyed" quiet timeout 10 "$XENON" destroy "$E2"
check "  the waiting attach ends (within 5 s of the check)" until_ok 100 eval "! kill -0 $S 2>/dev/null"
wait "$S"
rc=$?
S=
check "  with exit 1, saying the domain is gone" eval "[ $rc = 1 ] && grep -q 'domain ${E2:-99} is gone' '$T/err3'"
check "xenon down" timeout 30 "$XENON" down
check "consoled stopped with xenon-hvd" until_ok 100 eval '[ -z "$(consoled_pid)" ]'
