"""The sequential echo server of chapter 03, in Python: an accept loop, one client at a time.

Run:   python3 python/sequential_server.py [--addr 127.0.0.1:7878]
Then:  nc -N 127.0.0.1 7878 in two terminals (see Setup): the second is served only when the
       first closes. examples/03_sequential_server.rs has the same limit, and says why.
"""
import argparse
import os
import socket


def echo_handler(conn, peer):
    print("connected: %s:%d" % peer[:2], flush=True)
    while True:
        data = conn.recv(8192)
        if not data:
            break
        conn.sendall(data)
    conn.close()
    print("disconnected: %s:%d" % peer[:2], flush=True)


def echo_server(host, port, backlog=5):
    server = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                           socket.SOCK_STREAM)
    if os.name != "nt":
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(backlog)
    print("listening on %s:%d" % server.getsockname()[:2], flush=True)
    while True:
        # While echo_handler runs, nobody calls accept(): the next clients wait in the backlog.
        conn, peer = server.accept()
        try:
            echo_handler(conn, peer)
        except ConnectionError as e:  # one client's reset must not stop the server
            print("error: %s:%d: %s" % (peer[:2] + (e,)), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", default="127.0.0.1:7878", help="address to listen on")
    host, _, port = parser.parse_args().addr.rpartition(":")
    try:
        echo_server(host.strip("[]"), int(port))
    except KeyboardInterrupt:
        print("shutting down", flush=True)
