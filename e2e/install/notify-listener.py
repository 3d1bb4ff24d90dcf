#!/usr/bin/env python3
"""Stand-in for systemd's notification socket, for tests.

Binds an AF_UNIX datagram socket at argv[1] (a path, or "@name" for the abstract namespace, as
NOTIFY_SOCKET spells it) and prints one JSON line per datagram on stdout:
  {"mono_us": <CLOCK_MONOTONIC at receipt, microseconds>, "pid": <sender pid or null>, "msg": "<datagram>"}
Datagrams keep their boundaries (socat would glue them together). File descriptors passed along
(systemd-notify's BARRIER=1 sends one and waits until the receiver closes it) are closed at once,
which is what systemd does once it has processed every earlier message.
Prints "listening" once bound. Exits when stdin closes (the test ended or died) or on SIGTERM; a path
socket is removed on exit.
"""
import array
import json
import os
import select
import socket
import struct
import sys
import time

def main() -> None:
    addr = sys.argv[1]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + addr[1:] if addr.startswith("@") else addr)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    print("listening", flush=True)
    try:
        while True:
            ready, _, _ = select.select([sock, sys.stdin], [], [])
            if sys.stdin in ready and os.read(sys.stdin.fileno(), 4096) == b"":
                return
            if sock not in ready:
                continue
            data, ancdata, _flags, _addr = sock.recvmsg(65536, socket.CMSG_SPACE(64 * 4) + socket.CMSG_SPACE(12))
            pid = None
            for level, kind, payload in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds = array.array("i")
                    fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
                    for fd in fds:
                        os.close(fd)
                elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", payload[:12])[0]
            line = {"mono_us": time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000, "pid": pid, "msg": data.decode("utf-8", "replace")}
            print(json.dumps(line), flush=True)
    finally:
        sock.close()
        if not addr.startswith("@"):
            try:
                os.unlink(addr)
            except FileNotFoundError:
                pass

if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
