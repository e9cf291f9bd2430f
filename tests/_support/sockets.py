"""Raw HTTP/1.1 over a socket, for what http.client will not send (a chunked body the
test ends when it chooses)."""

from __future__ import annotations

import socket


def chunked_put(port: int, path: str, pieces: list[bytes], extra: str = "") -> socket.socket:
    """Send the head and the pieces of a chunked PUT; the caller ends it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    head = f"PUT {path} HTTP/1.1\r\nHost: relay\r\nTransfer-Encoding: chunked\r\n{extra}\r\n"
    sock.sendall(head.encode())
    for piece in pieces:
        sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
    return sock


def read_status(sock: socket.socket) -> int:
    """The status code of the response that arrives on ``sock``."""
    data = b""
    while b"\r\n" not in data:
        more = sock.recv(4096)
        if not more:
            break
        data += more
    return int(data.split(b" ", 2)[1])
