"""The echo server of chapter 01, in Python: serve one client, echo what it sends, then exit.

Run:   python3 python/echo_server.py [--addr 127.0.0.1:7878]
Then:  cargo run --example 02_echo_client -- hello      (in a second terminal)

Each step is one call, as in C: socket, bind, listen, accept. Compare with
examples/01_echo_server.rs, where `TcpListener::bind` does the first three.
"""
import argparse
import os
import socket


def parse_addr(text):
    """'127.0.0.1:7878' or '[::1]:7878' -> (family, host, port)."""
    host, _, port = text.rpartition(":")
    if host.startswith("["):
        return socket.AF_INET6, host[1:-1], int(port)
    return socket.AF_INET, host, int(port)


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--addr", default="127.0.0.1:7878", help="address to listen on")
args = parser.parse_args()
family, host, port = parse_addr(args.addr)

# 1. socket(): a TCP socket (SOCK_STREAM), not yet bound to anything.
with socket.socket(family, socket.SOCK_STREAM) as server:
    # Python does not set SO_REUSEADDR for you (Rust's std does, on Unix): without it, a
    # restart right after a client was served can fail with "address already in use".
    # On Windows the option means something else (see the Portability appendix).
    if os.name != "nt":
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # 2. bind(): claim the address. Port 0 asks the kernel for any free port.
    server.bind((host, port))
    # 3. listen(): from now on the kernel completes handshakes and queues connections.
    server.listen()
    print("listening on %s:%d" % server.getsockname()[:2], flush=True)

    # 4. accept(): wait for one client; a NEW socket for it, `server` keeps listening.
    conn, peer = server.accept()
    with conn:
        print("connected: %s:%d" % peer[:2], flush=True)
        echoed = 0
        while True:
            data = conn.recv(4096)  # b"" means the client closed its side: end of stream
            if not data:
                break
            conn.sendall(data)  # send() may take only part; sendall() loops until done
            echoed += len(data)
        print("disconnected: %s:%d (%d bytes echoed)" % (peer[:2] + (echoed,)), flush=True)
