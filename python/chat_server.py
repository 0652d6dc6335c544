"""The chat room of the classic tutorials (chapter 14), in Python: a thread per member, and a
broadcast that loops over everyone and send()s.

Run:   python3 python/chat_server.py [--addr 127.0.0.1:7878]
Then:  nc -N 127.0.0.1 7878 in two or more terminals, and type.

Kept as the tutorials write it, because chapter 14's first exercise breaks it: stop one member
(Ctrl-Z in its nc) and flood the room from another (a few MB: see the exercise). Once the stopped member's buffers
are full, send() to it blocks the SENDER's thread, inside the loop, and the room freezes for
everyone. examples/14_chat_room.rs gives each member a bounded outbox instead.
"""
import argparse
import os
import socket
import threading

clients = []
lock = threading.Lock()


# ANCHOR: broadcast
def broadcast(message, client):
    for c in clients:
        if c != client:
            try:
                # blocks while c's buffers are full; may send only part
                c.send(message)
            except OSError:
                pass  # c has left; its own thread removes it
# ANCHOR_END: broadcast


def handle(client):
    while True:
        try:
            message = client.recv(1024)  # not a line, not a message: whatever has arrived
        except ConnectionError:
            message = b""
        if not message:
            break
        with lock:
            broadcast(message, client)
    with lock:
        clients.remove(client)
    client.close()


def main(host, port):
    server = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                           socket.SOCK_STREAM)
    if os.name != "nt":
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen()
    print("listening on %s:%d" % server.getsockname()[:2], flush=True)
    while True:
        client, peer = server.accept()
        print("connected: %s:%d" % peer[:2], flush=True)
        with lock:
            clients.append(client)
        threading.Thread(target=handle, args=(client,), daemon=True).start()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", default="127.0.0.1:7878", help="address to listen on")
    host, _, port = parser.parse_args().addr.rpartition(":")
    try:
        main(host.strip("[]"), int(port))
    except KeyboardInterrupt:
        print("shutting down", flush=True)
