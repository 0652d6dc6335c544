"""The UDP time server of the classic tutorials (chapter 09), in Python.

Run:   python3 python/udp_time_server.py [--addr 127.0.0.1:7879]
Then:  python3 python/udp_time_client.py, or cargo run --example 10_udp_time_client

No listen(), no accept(), no connection: one socket receives every client's datagrams, each
with the address to answer. It answers with time.ctime() and a newline: local time without a zone;
examples/09_udp_time_server.rs adds the zone, and checks the request's size.
"""
import argparse
import socket
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--addr", default="127.0.0.1:7879", help="address to listen on")
host, _, port = parser.parse_args().addr.rpartition(":")
host = host.strip("[]")

sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((host, int(port)))
print("listening on %s:%d" % sock.getsockname()[:2], flush=True)
try:
    while True:
        # One recvfrom() is one whole datagram; a longer one is cut to 8192 bytes, silently.
        msg, addr = sock.recvfrom(8192)
        # The tutorials send time.ctime() alone; the newline makes it a line of text, which
        # examples/10_udp_time_client.rs insists on (a line, or RFC 868's four bytes).
        sock.sendto((time.ctime() + "\n").encode("ascii"), addr)
except KeyboardInterrupt:
    print("shutting down", flush=True)
