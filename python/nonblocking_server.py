"""A non-blocking echo loop in one thread, the way the classic tutorials first show it (chapter 07).

Run:   python3 python/nonblocking_server.py [--addr 127.0.0.1:7878]
Then:  nc -N 127.0.0.1 7878 in several terminals: all are served, by one thread.

setblocking(False) makes accept(), recv() and send() raise BlockingIOError instead of waiting.
With nothing to wait on, the loop tries every socket in turn and sleeps a little between rounds:
simple, but it either burns CPU (short sleep) or adds latency (long sleep). Chapter 08's
readiness loop (python/select_server.py) waits in the kernel instead.
"""
import argparse
import os
import socket
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--addr", default="127.0.0.1:7878", help="address to listen on")
host, _, port = parser.parse_args().addr.rpartition(":")
host = host.strip("[]")

server = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
if os.name != "nt":
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((host, int(port)))
server.listen()
server.setblocking(False)  # never wait in accept()
print("listening on %s:%d" % server.getsockname()[:2], flush=True)

clients = {}  # socket -> bytes received and not yet echoed
try:
    while True:
        try:
            conn, peer = server.accept()
            conn.setblocking(False)
            clients[conn] = bytearray()
            print("connected: %s:%d" % peer[:2], flush=True)
        except BlockingIOError:
            pass  # nobody waiting to be accepted: not an error
        for conn, pending in list(clients.items()):
            try:
                data = conn.recv(4096)
                if not data:  # end of stream
                    del clients[conn]
                    conn.close()
                    continue
                pending += data
            except BlockingIOError:
                pass
            except ConnectionError:
                del clients[conn]
                conn.close()
                continue
            if pending:
                try:
                    sent = conn.send(pending)  # may take only part of it
                    del pending[:sent]
                except BlockingIOError:
                    pass  # its send buffer is full: try again next round
        time.sleep(0.001)  # the price of polling: 1 ms of latency, some CPU when idle
except KeyboardInterrupt:
    print("shutting down", flush=True)
