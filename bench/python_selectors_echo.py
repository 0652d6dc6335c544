"""A single-threaded `selectors` echo server (chapter 13's comparison): python/select_server.py's
loop, with the per-client output buffer that the classic `select` example lacks.

Run: python3 bench/python_selectors_echo.py 127.0.0.1:7878
Prints `listening on ADDR` first, like the workbook's servers.
"""
import selectors
import socket
import sys

sel = selectors.DefaultSelector()  # epoll on Linux
pending = {}


def accept(server):
    while True:
        try:
            conn, _ = server.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pending[conn] = bytearray()
        sel.register(conn, selectors.EVENT_READ, serve)


def close(conn):
    sel.unregister(conn)
    del pending[conn]
    conn.close()


def serve(conn, mask):
    out = pending[conn]
    if mask & selectors.EVENT_READ and len(out) < 256 * 1024:
        try:
            data = conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            data = None
        except ConnectionError:
            return close(conn)
        if data == b"":
            if not out:
                return close(conn)
        elif data:
            out += data
    if out:
        try:
            sent = conn.send(out)
            del out[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except ConnectionError:
            return close(conn)
    events = selectors.EVENT_READ | (selectors.EVENT_WRITE if out else 0)
    sel.modify(conn, events, serve)


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, int(port)))
    server.listen(4096)
    server.setblocking(False)
    sel.register(server, selectors.EVENT_READ, None)
    print("listening on %s:%d" % server.getsockname(), flush=True)
    while True:
        for key, mask in sel.select():
            if key.data is None:
                accept(server)
            else:
                key.data(key.fileobj, mask)


if __name__ == "__main__":
    main()
