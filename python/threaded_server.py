"""The thread-per-client echo server of chapter 04, in Python.

Run:   python3 python/threaded_server.py [--addr 127.0.0.1:7878]
Then:  nc -N 127.0.0.1 7878 in several terminals: every client is served at once.

It is python/sequential_server.py with one change in the accept loop: the handler runs on a new
thread. Nothing bounds the number of threads: a burst of connections can exhaust memory or the
thread limit, which is the warning chapter 04 takes seriously and chapter 05 answers with a pool.
"""
import argparse
import os
import socket
import threading


def echo_handler(conn, peer):
    print("connected: %s:%d" % peer[:2], flush=True)
    with conn:
        try:
            while True:
                data = conn.recv(8192)
                if not data:
                    break
                conn.sendall(data)
        except ConnectionError as e:
            print("error: %s:%d: %s" % (peer[:2] + (e,)), flush=True)
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
        conn, peer = server.accept()
        # The one change from sequential_server.py. daemon=True lets Ctrl-C end the program
        # even while handler threads are blocked in recv().
        threading.Thread(target=echo_handler, args=(conn, peer), daemon=True).start()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", default="127.0.0.1:7878", help="address to listen on")
    host, _, port = parser.parse_args().addr.rpartition(":")
    try:
        echo_server(host.strip("[]"), int(port))
    except KeyboardInterrupt:
        print("shutting down", flush=True)
