"""The `socketserver` version of a threaded server, as the classic tutorials write it (chapter 05).

Run:   python3 python/socketserver_upper.py [--addr 127.0.0.1:7878]
Then:  cargo run --example 02_echo_client -- --addr 127.0.0.1:7878 HELLO
       (an upper-case message comes back unchanged, so the echo client is satisfied), or
       nc -N 127.0.0.1 7878, type a line, and it comes back in upper case.

The handler is called once per connection and answers ONE recv(): a second line on the same
connection gets no answer. ThreadingMixIn starts a new thread per connection, with no bound.
examples/05_thread_pool_server.rs is the bounded version of the same idea.
"""
import argparse
import socketserver


# ANCHOR: server
class ThreadedTCPRequestHandler(socketserver.BaseRequestHandler):
    def handle(self):
        # self.request is the connected socket.
        # One recv() is not one message (chapter 11).
        data = self.request.recv(1024).strip()
        self.request.sendall(data.decode("utf-8").upper().encode("utf-8"))


class ThreadedTCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True  # SO_REUSEADDR; TCPServer leaves it off by default
    daemon_threads = True  # Ctrl-C does not wait for handlers blocked in recv()


def main(host, port):
    with ThreadedTCPServer((host, port), ThreadedTCPRequestHandler) as server:
        print("listening on %s:%d" % server.server_address[:2], flush=True)
        server.serve_forever()
# ANCHOR_END: server


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", default="127.0.0.1:7878", help="address to listen on")
    host, _, port = parser.parse_args().addr.rpartition(":")
    try:
        main(host, int(port))
    except KeyboardInterrupt:
        print("shutting down", flush=True)
