"""HTTP transport: a threaded stdlib server speaking the same bytes as the hook.

One thread per connection (ThreadingHTTPServer), HTTP/1.1 keep-alive, and chunked
transfer encoding for event streams so frames reach the client as they are paced.
"""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the second waits for the client's
    # delayed ACK (~40 ms per call on Linux), which no real endpoint shows.
    disable_nagle_algorithm = True
    server_version = "bedrock_local"
    emulator: Any = None  # set on the per-server subclass

    def log_message(self, fmt: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _serve(self) -> None:
        try:
            self._answer()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its read timeout fired, or a deadline abandoned the call): nothing to answer.
            self.close_connection = True

    def _answer(self) -> None:
        body = self._read_body()
        reply = self.emulator.handle(self.command, self.path, dict(self.headers.items()), body)
        self.send_response(reply.status)
        headers = dict(reply.headers)
        streaming = reply.stream is not None
        if streaming:
            headers.pop("Content-Length", None)
            headers["Transfer-Encoding"] = "chunked"
        else:
            headers["Content-Length"] = str(len(reply.body))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if not streaming:
            self.wfile.write(reply.body)
            return
        for frame in reply.stream:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    do_POST = _serve
    do_GET = _serve
    do_PUT = _serve
    do_DELETE = _serve  # DeleteInferenceProfile (control plane)


class LocalServer:
    """A running server; ``url`` is what AWS_ENDPOINT_URL_BEDROCK_RUNTIME should hold."""

    def __init__(self, emulator: Any, host: str = "127.0.0.1", port: int = 0):
        handler = type("BoundHandler", (_Handler,), {"emulator": emulator})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        # A short poll interval keeps shutdown() fast (tests start and stop many servers).
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), name="bedrock_local",
                                        daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "LocalServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
