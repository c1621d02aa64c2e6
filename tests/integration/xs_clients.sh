#!/bin/bash
# Debian's xenstore-* clients against xenon-xenstored: exact outputs, messages
# and exit codes as C xenstored gives them (see the compat notes).
# Usage: xs_clients.sh PATH/TO/xenon-xenstored
set -u
. "$(dirname "$0")/xs_lib.sh"

if ! xs_start "$1"; then
	tap_not_ok "daemon starts and signals readiness"
	exit 1
fi
tap_ok "daemon starts and signals readiness"

# One line of `xenstore-ls -p`: name = "value", a space, then ". . ." padding
# to column 60 ((col & 1) ? '.' : ' '), then "  (perms)".
ls_p_line() {
	local indent=$1 name=$2 value=$3 perms=$4 line col
	line=$(printf '%*s%s = "%s"' "$indent" '' "$name" "$value")
	col=$((${#line} + 1))
	line+=" "
	while [ $col -lt 60 ]; do
		if [ $((col & 1)) = 1 ]; then line+="."; else line+=" "; fi
		col=$((col + 1))
	done
	printf '%s  (%s)' "$line" "$perms"
}

socket_mode=$(stat -c %a "$XS_DIR/socket")
tap_check "socket has mode 0600 (got $socket_mode)" [ "$socket_mode" = 600 ]
tap_check "pid file holds the daemon's pid" [ "$(cat "$XS_DIR/xenstored.pid")" = "$XS_PID" ]

tap_expect "xenstore-write creates a node" 0 "" xenstore-write /test/a hello
tap_expect "xenstore-read reads it back" 0 "hello" xenstore-read /test/a
tap_expect "xenstore-read of a missing node" 1 "xenstore-read: couldn't read path /test/none" \
	xenstore-read /test/none
tap_expect "xenstore-write of several pairs" 0 "" xenstore-write /test/b 2 /test/c 3
tap_expect "xenstore-read of several keys (transaction)" 0 $'2\n3' xenstore-read /test/b /test/c
tap_expect "xenstore-read -p prefixes the path" 0 "/test/a: hello" xenstore-read -p /test/a
tap_expect "empty value" 0 "" xenstore-write /test/empty ""
tap_expect "empty value reads back empty" 0 "" xenstore-read /test/empty
tap_expect "relative write" 0 "" xenstore-write rel/x 1
tap_expect "relative path lives under /local/domain/0" 0 "1" xenstore-read /local/domain/0/rel/x
tap_expect "relative read" 0 "1" xenstore-read rel/x
tap_expect "xenstore-write unescapes C escapes" 0 "" xenstore-write /test/esc 'a\tb\\c'
tap_expect "xenstore-read escapes a tab and a backslash" 0 'a\tb\\c' xenstore-read /test/esc
tap_expect "xenstore-read -R prints raw" 0 $'a\tb\\c' xenstore-read -R /test/esc
xenstore-rm /test/esc >/dev/null 2>&1

tap_expect "xenstore-list lists children in insertion order" 0 $'a\nb\nc\nempty' \
	xenstore-list /test
tap_expect "xenstore-list of a missing node" 1 "xenstore-list: could not list path /none" \
	xenstore-list /none
tap_expect "xenstore-ls prints a subtree" 0 $'a = "hello"\nb = "2"\nc = "3"\nempty = ""' \
	xenstore-ls /test
tap_expect "xenstore-ls of a missing node" 1 \
	"xenstore-ls: xs_directory (/none): No such file or directory" xenstore-ls /none
xenstore-write /lsp/a hello /lsp/d "" /lsp/d/e x >/dev/null 2>&1
tap_expect "xenstore-chmod sets owner and a reader" 0 "" xenstore-chmod /lsp/d/e n0 r1
tap_expect "xenstore-ls -p pads to column 60 and shows perms" 0 \
	"$(ls_p_line 0 a hello n0)
$(ls_p_line 0 d "" n0)
$(ls_p_line 1 e x n0,r1)" xenstore-ls -p /lsp
tap_expect "xenstore-chmod of a missing node" 1 \
	"xenstore-chmod: Error occurred setting permissions on '/none': No such file or directory" \
	xenstore-chmod /none n0
tap_expect "xenstore-chmod -r applies to the subtree" 0 "" xenstore-chmod -r /lsp/d b0
tap_expect "xenstore-ls -p shows the recursive perms" 0 \
	"$(ls_p_line 0 e x b0)" xenstore-ls -p /lsp/d
tap_expect "new nodes inherit their parent's perms" 0 "" xenstore-write /lsp/d/f y
tap_expect "xenstore-ls -p shows the inherited perms" 0 \
	"$(ls_p_line 0 e x b0)
$(ls_p_line 0 f y b0)" xenstore-ls -p /lsp/d

tap_expect "xenstore-exists of a node is silent, rc 0" 0 "" xenstore-exists /test/a
tap_expect "xenstore-exists of a missing node is silent, rc 1" 1 "" xenstore-exists /test/none
tap_expect "xenstore-rm removes a node" 0 "" xenstore-rm /test/a
tap_expect "the removed node is gone" 1 "" xenstore-exists /test/a
tap_expect "xenstore-rm of a missing node under an existing parent" 0 "" xenstore-rm /test/none
tap_expect "xenstore-rm with a missing parent" 1 "xenstore-rm: could not remove path /none/x" \
	xenstore-rm /none/x
tap_expect "xenstore-rm removes a subtree" 0 "" xenstore-rm /lsp
tap_expect "the subtree is gone" 1 "" xenstore-exists /lsp/d/e
tap_expect "the initial tree has /tool/xenstored" 0 "" xenstore-exists /tool/xenstored
tap_expect "xenstore MODE works like xenstore-MODE" 0 "2" xenstore read /test/b
tap_expect "xenstore with an unknown mode" 1 "xenstore: unknown mode bogus" xenstore bogus /x

# xenstore-watch: the initial event first, then one path per event. It runs
# with stdout on a fifo so each line is read as it comes (no sleeping), and
# is bounded by -n 3 and a 30 s timeout (each read by 20 s: generous, for a
# loaded machine).
mkfifo "$XS_DIR/watch"
timeout 30 xenstore-watch -n 3 /test/w >"$XS_DIR/watch" 2>&1 &
watch_pid=$!
exec 4<"$XS_DIR/watch"
read -r -t 20 ev0 <&4
tap_expect "xenstore-watch prints the initial event" 0 "/test/w" echo "$ev0"
xenstore-write /test/w/x 1 >/dev/null 2>&1
read -r -t 20 ev1 <&4
tap_expect "a write below the watch fires with the node's path" 0 "/test/w/x" echo "$ev1"
xenstore-write /test/wx 1 >/dev/null 2>&1 # a string-prefix sibling must not fire
xenstore-rm /test/w >/dev/null 2>&1
read -r -t 20 ev2 <&4
tap_expect "rm fires; a prefix sibling does not" 0 "/test/w" echo "$ev2"
exec 4<&-
wait "$watch_pid"
tap_check "xenstore-watch -n 3 exits 0 after three events" [ $? = 0 ]

# The daemon's own command line.
tap_check "--help prints a man-style usage, exit 0" \
	bash -c '"$0" --help | grep -q "^SYNOPSIS"' "$1"
tap_expect "a bad quota name is bad usage (exit 2)" 2 \
	"xenon-xenstored: bad argument: bogus=1" "$1" --socket "$XS_DIR/x" --quota bogus=1
tap_expect "a second daemon on a live socket refuses to start (exit 1)" 1 \
	"xenon-xenstored: start-up failed at socket: Address already in use" \
	"$1" --socket "$XS_DIR/socket" --log-file /dev/null
tap_expect "the first daemon still serves" 0 "2" xenstore-read /test/b
tap_expect "an unusable run dir fails at the log step (exit 1)" 1 \
	"xenon-xenstored: start-up failed at log: No such file or directory" \
	"$1" --run-dir "$XS_DIR/no/such/dir"

tap_check "daemon still running" kill -0 "$XS_PID"
tap_check "SIGTERM: exit 0, socket and pid file removed" xs_stop
