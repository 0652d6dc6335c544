"""Chapter 19's server in Python: `http.server` with the same three pages.

Run:   python3 python/http_server.py [--addr 127.0.0.1:7878] [--root DIR]
Then:  curl -v http://127.0.0.1:7878/hello?name=ada

`http.server` parses the request for us: `BaseHTTPRequestHandler` reads the request line and
the headers (`http.client.parse_headers`: at most 100 header lines of 64 KiB each), and calls
`do_GET`, `do_POST`, … by the method's name (an unknown method is `501`). Two defaults matter:
`protocol_version` is "HTTP/1.0", so every response closes its connection unless a handler
says otherwise (set to "HTTP/1.1" below, for keep-alive: then every response must carry a
Content-Length); and there is no deadline on a request head (`timeout` is per `recv`, None by
default), so one byte every few seconds holds a thread for ever, the slowloris of chapter 19.
Its writes are unbuffered by default, which keep-alive punishes (see `wbufsize` below).
`SimpleHTTPRequestHandler` serves a folder (`--root`), refusing `..` by normalising the path.
"""
import argparse
import http.server
import urllib.parse
from functools import partial


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as examples/19_http_server.rs
    # Buffer each response and send it in one piece (the handler flushes after each
    # request). Unbuffered, the default, the head and the body go out as two small
    # writes, and on a kept-alive connection the second waits for the client's delayed
    # ACK (Nagle's algorithm, chapter 13): about 40 ms per request on Linux.
    wbufsize = -1
    root = None

    def send_text(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/hello":
            name = urllib.parse.parse_qs(url.query).get("name", ["world"])[0]
            self.send_text(200, "hello, %s\n" % name)
        elif self.root is not None:
            super().do_GET()
        else:
            self.send_text(404, "404 Not Found: no such page\n")

    def do_POST(self):
        if urllib.parse.urlsplit(self.path).path != "/echo":
            self.send_text(404, "404 Not Found: no such page\n")
            return
        length = int(self.headers.get("Content-Length", 0))
        self.send_text(200, self.rfile.read(length).decode("utf-8", "replace"))

    def log_message(self, format, *args):
        pass  # one line per request on stderr by default: not on a hot path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", default="127.0.0.1:7878", help="address to listen on")
    parser.add_argument("--root", help="serve the files in this folder")
    args = parser.parse_args()
    host, _, port = args.addr.rpartition(":")
    Handler.root = args.root
    handler = partial(Handler, directory=args.root or ".")
    http.server.ThreadingHTTPServer.daemon_threads = True
    try:
        with http.server.ThreadingHTTPServer((host.strip("[]"), int(port)), handler) as server:
            print("listening on %s:%d" % server.server_address[:2], flush=True)
            server.serve_forever()
    except KeyboardInterrupt:
        print("shutting down", flush=True)
