"""A thread-per-client echo server like python/threaded_server.py (chapter 13's comparison).

Run: python3 bench/python_threaded_echo.py 127.0.0.1:7878
Prints `listening on ADDR` first, like the workbook's servers.
"""
import socket
import sys
import threading


def handle(conn):
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            conn.sendall(data)


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, int(port)))
    server.listen(4096)
    print("listening on %s:%d" % server.getsockname(), flush=True)
    while True:
        conn, _ = server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
