"""Small experiments behind the Portability appendix (book/src/portability.md), runnable anywhere.

Run:   python3 python/platform_checks.py            (every check)
       python3 python/platform_checks.py rst udp    (some of them)

Each check does one thing over loopback and prints what this machine's kernel did, so that a
row of the appendix can be checked on Linux, macOS or Windows. Nothing is sent off the machine.
"""
import errno
import os
import signal
import socket
import struct
import sys
import threading
import time


def pair():
    """A connected TCP pair over loopback: (client, server side)."""
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    listener.close()
    return client, server


def outcome(call):
    try:
        return repr(call())
    except OSError as e:
        detail = errno.errorcode.get(e.errno, e.errno) if e.errno else str(e)
        return "%s (%s)" % (type(e).__name__, detail)


def check_rst():
    """Data received, then a reset: which does recv() report first?"""
    client, server = pair()
    client.sendall(b"hello")
    # SO_LINGER with a zero timeout makes close() send a reset instead of a FIN.
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
    time.sleep(0.2)
    server.settimeout(1)
    print("rst: first recv ->", outcome(lambda: server.recv(100)))
    print("rst: second recv ->", outcome(lambda: server.recv(100)))


def check_udp():
    """A datagram to a closed port (ICMP port unreachable), and a datagram too big for the buffer."""
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.bind(("127.0.0.1", 0))
    closed = dead.getsockname()
    dead.close()
    unconnected = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    unconnected.settimeout(0.5)
    unconnected.sendto(b"x", closed)
    print("udp: unconnected socket, reply from a closed port ->",
          outcome(lambda: unconnected.recvfrom(100)))
    connected = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    connected.settimeout(0.5)
    connected.connect(closed)
    connected.send(b"x")
    print("udp: connected socket, reply from a closed port ->", outcome(lambda: connected.recv(100)))
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(1)
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"y" * 100, receiver.getsockname())
    print("udp: 100-byte datagram into a 10-byte buffer ->",
          outcome(lambda: receiver.recvfrom(10)[0]))


def check_sndbuf():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    print("sndbuf: set 65536, read back ->", s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))


def check_v6only():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError as e:
        print("v6only: no IPv6 here:", e)
        return
    print("v6only: default IPV6_V6ONLY ->", s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY))


def check_eintr():
    """A signal handler installed with SA_RESTART, during a recv() with and without SO_RCVTIMEO."""
    if os.name == "nt":
        print("eintr: Windows has no such signals; Ctrl-C handlers run on a thread of their own")
        return
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    signal.signal(signal.SIGUSR1, lambda *_: None)
    signal.siginterrupt(signal.SIGUSR1, False)  # install it with SA_RESTART
    for timeout in (None, 5):
        client, server = pair()
        if timeout:
            tv = struct.pack("ll", timeout, 0)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGUSR1)).start()
        threading.Timer(1.0, client.sendall, (b"z",)).start()
        buf = ctypes.create_string_buffer(10)
        start = time.time()
        n = libc.recv(server.fileno(), buf, 10, 0)  # the raw call: Python would retry EINTR
        err = ctypes.get_errno()
        result = "%d byte(s)" % n if n >= 0 else errno.errorcode.get(err, err)
        print("eintr: SO_RCVTIMEO %s, signal after 0.3 s: recv -> %s after %.1f s"
              % ("set" if timeout else "unset", result, time.time() - start))


CHECKS = {"rst": check_rst, "udp": check_udp, "sndbuf": check_sndbuf, "v6only": check_v6only,
          "eintr": check_eintr}

if __name__ == "__main__":
    names = sys.argv[1:] or list(CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        sys.exit("error: unknown check %s (choose from %s)" % (", ".join(unknown), ", ".join(CHECKS)))
    print("platform:", sys.platform, os.uname().release if hasattr(os, "uname") else "")
    for name in names:
        CHECKS[name]()
