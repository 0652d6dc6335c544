"""Chapter 19's handlers as a WSGI application, served by the standard library's `wsgiref`.

Run:   python3 python/wsgi_hello.py [--addr 127.0.0.1:7878]
Then:  curl http://127.0.0.1:7878/hello?name=ada    and    curl -d hi http://127.0.0.1:7878/echo

WSGI (PEP 3333) is the interface between a Python web server and a framework: the application
is a callable `app(environ, start_response)`, where `environ` is the request (a dict: the
method, the path, the headers as `HTTP_*` keys, the body as a file in `wsgi.input`) and
`start_response(status, headers)` starts the response; the callable returns the body as an
iterable of bytes. The application knows nothing of sockets, as chapter 19's handlers, a
`Fn(&Request) -> Response`, know nothing of them. `wsgiref.simple_server` is the reference
server: one request at a time, HTTP/1.0, no keep-alive, for trying an application, not for
serving one (its documentation says as much).
"""
import argparse
import urllib.parse
from wsgiref.simple_server import WSGIRequestHandler, make_server


def app(environ, start_response):
    path = environ["PATH_INFO"]
    method = environ["REQUEST_METHOD"]
    if path == "/hello" and method in ("GET", "HEAD"):
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        body = ("hello, %s\n" % query.get("name", ["world"])[0]).encode()
    elif path == "/echo" and method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
    elif path in ("/hello", "/echo"):
        start_response("405 Method Not Allowed", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"405 Method Not Allowed\n"]
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"404 Not Found: no such page\n"]
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", str(len(body)))])
    return [body]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass  # one line per request on stderr by default


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", default="127.0.0.1:7878", help="address to listen on")
    host, _, port = parser.parse_args().addr.rpartition(":")
    try:
        with make_server(host.strip("[]"), int(port), app, handler_class=QuietHandler) as server:
            print("listening on %s:%d" % server.server_address[:2], flush=True)
            server.serve_forever()
    except KeyboardInterrupt:
        print("shutting down", flush=True)
