#!/bin/bash
# The socket transport at the wire level (raw xsd_sockmsg from python3):
# pipelining, frames cut into single bytes, oversized payloads, unknown
# types, a client that stops reading (back-pressure, then a drop at the
# output limit, logged once), the client limit, and EOF mid-frame.
# Usage: xs_socket.sh PATH/TO/xenon-xenstored
set -u
. "$(dirname "$0")/xs_lib.sh"

if ! xs_start "$1" --max-output 1048576 --max-clients 16; then
	tap_not_ok "daemon starts and signals readiness"
	exit 1
fi
tap_ok "daemon starts and signals readiness"

# Each case is a python function returning None on success or a reason.
cat >"$XS_DIR/wire.py" <<'PY'
import os, socket, struct, sys, threading, time

SOCK = os.environ["XENSTORED_PATH"]
XS_DIRECTORY, XS_READ, XS_WATCH, XS_WATCH_EVENT, XS_ERROR, XS_WRITE = 1, 2, 4, 15, 16, 11

def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(SOCK)
    return s

def frame(t, rid, payload, tx=0, ln=None):
    return struct.pack("<IIII", t, rid, tx, len(payload) if ln is None else ln) + payload

def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf

def reply(s):
    t, rid, tx, ln = struct.unpack("<IIII", recv_exact(s, 16))
    return t, rid, tx, recv_exact(s, ln)

def closed(s):
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True

def call(s, t, payload, rid=1, tx=0):
    s.sendall(frame(t, rid, payload, tx))
    return reply(s)

def pipelined():
    s = conn()
    call(s, XS_WRITE, b"/sock/p\0value")
    s.sendall(b"".join(frame(XS_READ, i, b"/sock/p\0") for i in range(1, 2001)))
    for i in range(1, 2001):
        t, rid, tx, p = reply(s)
        if (t, rid, tx, p) != (XS_READ, i, 0, b"value"):
            return "reply %d: %r" % (i, (t, rid, tx, p))

def single_bytes():
    s = conn()
    data = frame(XS_WRITE, 7, b"/sock/b\0x") + frame(XS_READ, 8, b"/sock/b\0")
    for i in range(len(data)):
        s.send(data[i:i + 1])
    r1, r2 = reply(s), reply(s)
    if r1 != (XS_WRITE, 7, 0, b"OK\0") or r2 != (XS_READ, 8, 0, b"x"):
        return "%r %r" % (r1, r2)

def oversized():
    s = conn()
    s.sendall(frame(XS_WRITE, 1, b"/sock/o\0" + b"a" * 4089, ln=4097) + b"a" * 4089)
    if not closed(s):
        return "connection still open"
    t, rid, tx, p = call(conn(), XS_READ, b"/sock/o\0")
    if t != XS_ERROR or p != b"ENOENT\0":
        return "oversized write was applied: %r" % p

def max_payload():
    s = conn()
    path = b"/sock/m\0"
    t, rid, tx, p = call(s, XS_WRITE, path + b"v" * (4096 - len(path)))
    if t != XS_WRITE:
        return "%r" % p

def unknown_type():
    s = conn()
    r = call(s, 20, b"", rid=3)
    if r != (XS_ERROR, 3, 0, b"ENOSYS\0"):
        return "%r" % (r,)
    if call(s, XS_READ, b"/sock/p\0", rid=4)[3] != b"value":
        return "connection not usable after ENOSYS"

def backpressure():
    # 3000 reads of a 2000-byte value, sent without reading: ~6 MB of replies,
    # far past the 1 MiB output limit. The daemon must stop reading rather
    # than queue them or drop us; all replies arrive once we read.
    s = conn()
    call(s, XS_WRITE, b"/sock/big\0" + b"z" * 2000)
    reqs = b"".join(frame(XS_READ, i, b"/sock/big\0") for i in range(3000))
    t = threading.Thread(target=s.sendall, args=(reqs,))
    t.start()
    time.sleep(0.3)  # be a slow reader for a while
    for i in range(3000):
        typ, rid, tx, p = reply(s)
        if typ != XS_READ or rid != i or len(p) != 2000:
            return "reply %d: type %d len %d" % (i, typ, len(p))
    t.join(10)

def slow_watcher():
    # A watcher that never reads while others fire long events at it is
    # dropped once its queue passes --max-output; the writer is unharmed.
    w = conn()
    w.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    base = b"/sock/w/" + b"d" * 1900
    if call(w, XS_WATCH, b"/sock/w\0tok\0")[0] != XS_WATCH:
        return "watch failed"
    s = conn()
    for i in range(2000):
        if call(s, XS_WRITE, base + b"%d\0v" % (i % 10))[0] != XS_WRITE:
            return "write %d failed" % i
    w.settimeout(10)
    try:
        while w.recv(65536):
            pass
    except ConnectionResetError:
        pass
    if call(s, XS_READ, b"/sock/p\0")[3] != b"value":
        return "writer broken"

def client_limit():
    keep = [conn() for _ in range(16)]
    for k in keep:
        call(k, XS_READ, b"/sock/p\0")
    extra = conn()
    if not closed(extra):
        return "17th client accepted"
    keep.pop().close()
    # Room again: a new client is served (retry while the close is noticed).
    for _ in range(100):
        c = conn()
        try:
            if call(c, XS_READ, b"/sock/p\0")[3] == b"value":
                return None
        except (EOFError, ConnectionResetError, BrokenPipeError):
            pass
    return "no client accepted after one left"

def eof_mid_frame():
    s = conn()
    s.sendall(frame(XS_READ, 1, b"/sock/p\0")[:10])
    s.close()
    if call(conn(), XS_READ, b"/sock/p\0")[3] != b"value":
        return "daemon unhappy"

case = globals()[sys.argv[1]]
try:
    why = case()
except Exception as e:
    why = "%s: %s" % (type(e).__name__, e)
if why:
    print("# " + why)
    sys.exit(1)
PY

wire() { timeout 30 python3 "$XS_DIR/wire.py" "$1"; }
tap_check "2000 pipelined requests answered in order, ids echoed" wire pipelined
tap_check "frames sent one byte at a time" wire single_bytes
tap_check "payload over 4096 bytes drops the connection, nothing applied" wire oversized
tap_check "a 4096-byte payload is accepted" wire max_payload
tap_check "unknown type 20: ENOSYS, connection stays open" wire unknown_type
tap_check "a client not reading its replies is throttled, not dropped" wire backpressure
tap_check "a watcher that never reads is dropped at --max-output" wire slow_watcher
tap_check "the overflow is logged once" \
	[ "$(grep -c 'unread (limit' "$XS_DIR/xenstored.log")" = 1 ]
tap_check "--max-clients: the extra client is closed, room comes back" wire client_limit
tap_check "the client limit is logged once" \
	[ "$(grep -c 'socket clients connected (the limit)' "$XS_DIR/xenstored.log")" = 1 ]
tap_check "EOF in the middle of a frame" wire eof_mid_frame
tap_check "daemon still running" kill -0 "$XS_PID"
tap_check "SIGTERM: exit 0, socket and pid file removed" xs_stop
