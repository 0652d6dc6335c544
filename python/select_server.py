"""The classic `select` server of the Python tutorials (chapter 08), runnable.

Run:   python3 python/select_server.py [--addr 127.0.0.1:7878]
Then:  nc -N 127.0.0.1 7878, type anything: `Hello, world!` comes back, once per read.

Kept as the tutorials write it, flaws included, because chapter 08 discusses them: it answers
with a fixed greeting instead of echoing (nothing is kept per client), and whatever part of the
greeting send() does not take is lost. examples/08_poll_server.rs keeps a buffer per client;
bench/python_selectors_echo.py is the same loop done properly with `selectors`.
"""
import argparse
import os
import select
import socket

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--addr", default="127.0.0.1:7878", help="address to listen on")
host, _, port = parser.parse_args().addr.rpartition(":")
host = host.strip("[]")

server_socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                              socket.SOCK_STREAM)
if os.name != "nt":
    server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server_socket.bind((host, int(port)))
server_socket.listen()
server_socket.setblocking(False)
print("listening on %s:%d" % server_socket.getsockname()[:2], flush=True)

try:
    # ANCHOR: loop
    inputs = [server_socket]  # sockets to read from
    outputs = []  # sockets with something to write

    while inputs:
        readable, writable, exceptional = select.select(inputs, outputs, inputs)
        for s in readable:
            if s is server_socket:
                connection, client_address = s.accept()
                connection.setblocking(False)
                inputs.append(connection)
            else:
                try:
                    data = s.recv(1024)
                except ConnectionError:
                    data = b""
                if data:
                    if s not in outputs:
                        outputs.append(s)
                else:  # end of stream: forget the socket everywhere
                    inputs.remove(s)
                    if s in outputs:
                        outputs.remove(s)
                    s.close()
        for s in writable:
            if s in outputs:  # not closed by the loop above
                s.send(b"Hello, world!\n")
                outputs.remove(s)
        for s in exceptional:
            if s in inputs:
                inputs.remove(s)
            if s in outputs:
                outputs.remove(s)
            s.close()
    # ANCHOR_END: loop
except KeyboardInterrupt:
    print("shutting down", flush=True)
