"""A small server on the package's HTTP/1.1 base: echoes what a PUT sent, answers GET with
a fixed or a chunked body; for tests of the server base and of the local CA."""

from __future__ import annotations

from mediastore_ingest.errors import RequestBodyError
from mediastore_ingest.testing import LocalHTTPServer, RequestHandler


class Echo(RequestHandler):
    def do_PUT(self) -> None:
        try:
            body = self.read_body(max_size=100)
        except RequestBodyError as exc:
            self.send_json(413 if exc.reason == "too_large" else 400, {"reason": exc.reason})
            return
        self.send_json(200, {"length": len(body), "body": body.decode("latin-1")})

    def do_POST(self) -> None:
        # Answers without reading the body: the base drains it (small) or closes.
        self.send_body(204)

    def do_GET(self) -> None:
        if self.path == "/chunked":
            self.start_chunked(200, content_type="text/plain")
            self.write_chunk(b"ab")
            self.write_chunk(b"")
            self.write_chunk(b"cd")
            self.end_chunked()
        else:
            self.send_body(200, b"hello", content_type="text/plain")


class EchoServer(LocalHTTPServer):
    handler_class = Echo
