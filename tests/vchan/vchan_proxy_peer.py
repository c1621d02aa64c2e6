#!/usr/bin/env python3
"""The socket end of `xenon vchan-proxy` for tests/vchan/vchan_proc.sh.

    vchan_proxy_peer.py SOCKET [--listen] [--send N [--send-seed S]]
                        [--half-close | --no-read] [--flood] [--expect-seed S]

Connects to SOCKET (retrying: the proxy gives no sign when it listens), or
with --listen binds it and accepts one connection (the proxy's --client
mode). Then, at once and concurrently:
  --send N       a thread sends N bytes of the guest's pattern (seed 1,
                 or --send-seed S), then, with --half-close, shuts down
                 its writing side;
  --flood        a thread sends filler until the socket refuses it (at
                 most 64 MiB): the proxy always has bytes from us pending;
  reading        the main thread reads to the end and checks the bytes
                 against the pattern of seed S (--expect-seed, default 1);
                 with --no-read it reads nothing: it waits for the sender
                 and closes the socket with whatever came still unread.
Prints one line the script greps:
    got G bad B end eof|reset|timeout sent K
where B is the first byte differing from the pattern (-1: none), `end` how
the reading stopped (eof: a clean end of stream) and K what the sender got
into the socket. Every wait is bounded (20 s).
"""
import argparse
import os
import socket
import sys
import threading
import time

M = (1 << 64) - 1


def pattern(seed, start, n):
    """Bytes start..start+n of bench/proc_vchan_guest.c's pat(seed, i)."""
    out = bytearray(n)
    for k in range(n):
        x = ((start + k + 1) * 0x9E3779B97F4A7C15 & M) ^ seed
        x ^= x >> 29
        out[k] = ((x * 0xBF58476D1CE4E5B9) & M) >> 56
    return out


def connect(path, listen):
    if listen:
        # Bound under another name and renamed once listening: whoever
        # waits for the path to appear may connect at once.
        lst = socket.socket(socket.AF_UNIX)
        lst.bind(path + ".new")
        lst.listen(1)
        os.rename(path + ".new", path)
        lst.settimeout(20)
        s, _ = lst.accept()
        lst.close()
        return s
    for _ in range(400):  # every 50 ms: 20 s
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            time.sleep(0.05)
    sys.exit("nothing listens at " + path)


class Sender(threading.Thread):
    def __init__(self, s, a):
        super().__init__(daemon=True)
        self.s, self.flood, self.half_close = s, a.flood, a.half_close
        # Made before the first send, so the bytes go as fast as the
        # socket takes them (the proxy then has plenty in flight).
        self.data = b"y" * 65536 if a.flood else pattern(a.send_seed, 0, a.send)
        self.sent = 0

    def run(self):
        limit = 64 << 20 if self.flood else len(self.data)
        try:
            while self.sent < limit:
                k = min(65536, limit - self.sent)
                off = 0 if self.flood else self.sent
                self.s.sendall(self.data[off : off + k])
                self.sent += k
            if self.half_close:
                self.s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the proxy closed: `sent` says how far we got


def read_all(s, seed):
    got, bad, end = 0, -1, "eof"
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            if bad < 0:
                want = pattern(seed, got, len(b))
                if b != want:
                    bad = got + next(i for i in range(len(b)) if b[i] != want[i])
            got += len(b)
    except ConnectionResetError:
        end = "reset"
    except socket.timeout:
        end = "timeout"
    return got, bad, end


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("--listen", action="store_true")
    ap.add_argument("--send", type=int, default=0)
    ap.add_argument("--send-seed", type=int, default=1)
    ap.add_argument("--half-close", action="store_true")
    ap.add_argument("--no-read", action="store_true")
    ap.add_argument("--flood", action="store_true")
    ap.add_argument("--expect-seed", type=int, default=1)
    a = ap.parse_args()
    s = connect(a.socket, a.listen)
    s.settimeout(20)
    sender = Sender(s, a) if a.send or a.flood else None
    if sender:
        sender.start()
    if a.no_read:
        sender.join(20)
        got, bad, end = 0, -1, "none"
    else:
        got, bad, end = read_all(s, a.expect_seed)
    if sender:
        if a.flood:
            # Unblock a flood the proxy no longer reads.
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        sender.join(20)
    print("got", got, "bad", bad, "end", end, "sent", sender.sent if sender else 0)
    sys.stdout.flush()
    s.close()
    if a.listen:
        os.unlink(a.socket)


if __name__ == "__main__":
    main()
