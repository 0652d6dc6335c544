"""The UDP time client of the classic tutorials (chapters 09 and 10), with the timeout they omit.

Run:   python3 python/udp_time_client.py [--addr 127.0.0.1:7879]
       (with a time server running: python3 python/udp_time_server.py, or
       cargo run --example 09_udp_time_server)

The tutorials' client calls recvfrom() with no timeout: if the request or the reply is lost,
it waits forever. This one gives up after --timeout seconds and says so (exit 1). Retrying, as
examples/10_udp_time_client.rs does, is chapter 10.
"""
import argparse
import socket
import sys

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--addr", default="127.0.0.1:7879", help="server address")
parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the reply")
args = parser.parse_args()
host, _, port = args.addr.rpartition(":")
host = host.strip("[]")

s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(args.timeout)
s.sendto(b"time?", (host, int(port)))
try:
    text, server = s.recvfrom(8192)
except socket.timeout:
    sys.exit("error: no reply from %s within %gs (lost, or no server)" % (args.addr, args.timeout))
except ConnectionRefusedError:  # Linux reports the ICMP "port unreachable" this way
    sys.exit("error: %s refused the datagram (is the server running?)" % args.addr)
print(text.decode("ascii", "replace").rstrip("\n"))
