"""A line-based `socketserver` handler (chapter 05's `--mode lines`, in Python).

Run:   python3 python/socketserver_lines.py [--addr 127.0.0.1:7878]
Then:  nc -N 127.0.0.1 7878, type `world`, and `hello world` comes back.

StreamRequestHandler wraps the socket in two file objects: rfile to read lines, wfile to write.
`for line in self.rfile` reads until a newline however far away it is: a client that never
sends one makes this thread's buffer grow without limit. examples/05_thread_pool_server.rs caps
every line (`take(limit)`), and `self.rfile.readline(1025)` would be the Python equivalent.
"""
import argparse
import socketserver


class HelloHandler(socketserver.StreamRequestHandler):
    def handle(self):
        print("connected: %s:%d" % self.client_address[:2], flush=True)
        for line in self.rfile:
            self.wfile.write(b"hello " + line)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", default="127.0.0.1:7878", help="address to listen on")
    host, _, port = parser.parse_args().addr.rpartition(":")
    try:
        with Server((host, int(port)), HelloHandler) as server:
            print("listening on %s:%d" % server.server_address[:2], flush=True)
            server.serve_forever()
    except KeyboardInterrupt:
        print("shutting down", flush=True)
