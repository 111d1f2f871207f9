"""HTTP transport: a threaded stdlib server speaking the same bytes as the hook.

One thread per connection (ThreadingHTTPServer), HTTP/1.1 keep-alive, and chunked
transfer encoding for event streams so frames reach the client as they are paced.

Every request gets an answer (issue 15): a bad ``Content-Length`` or chunked body is a 400
ValidationException (then the connection closes, since the stream is out of step), a bug is a 500;
the listen backlog takes a burst of simultaneous connections; idle keep-alive connections are
closed after ``idle_timeout`` seconds.
"""
from __future__ import annotations

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# socketserver's default listen backlog is 5: a burst of 200 connections reset 98 of them.
BACKLOG = 1024
# Idle keep-alive connections are closed after this long (a load balancer in front of Bedrock
# closes idle connections too); LocalServer(idle_timeout=...) changes it.
IDLE_TIMEOUT = 60.0
_HEX = re.compile(rb"^[0-9a-fA-F]{1,16}$")
_LINE = 65537


class _BadRequest(Exception):
    """The request's framing is broken: answer 400 and close the connection."""


class _Server(ThreadingHTTPServer):
    request_queue_size = BACKLOG
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the second waits for the client's
    # delayed ACK (~40 ms per call on Linux), which no real endpoint shows.
    disable_nagle_algorithm = True
    server_version = "bedrock_local"
    emulator: Any = None  # set on the per-server subclass
    _started = False  # whether the status line of the current answer went out

    def log_message(self, fmt: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _read_chunked(self) -> bytes:
        data = bytearray()
        while True:
            line = self.rfile.readline(_LINE)
            size_field = line.strip().split(b";")[0]
            if not line.endswith(b"\n") or not _HEX.match(size_field):
                raise _BadRequest("The chunked request body is malformed: bad chunk size line.")
            size = int(size_field, 16)
            if size == 0:
                while True:  # optional trailers, then the blank line
                    trailer = self.rfile.readline(_LINE)
                    if trailer in (b"\r\n", b"\n"):
                        return bytes(data)
                    if not trailer.endswith(b"\n"):
                        raise _BadRequest("The chunked request body ended before its last chunk.")
            chunk = self.rfile.read(size)
            if len(chunk) != size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise _BadRequest("The chunked request body is malformed: a chunk does not match its size.")
            data += chunk

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.strip().isdigit() or not length.strip().isascii():
            raise _BadRequest("The Content-Length header must be a non-negative integer.")
        size = int(length)
        data = self.rfile.read(size)
        if len(data) != size:
            raise _BadRequest("The request body is shorter than its Content-Length.")
        return data

    def _serve(self) -> None:
        try:
            self._answer()
        except _BadRequest as bad:
            self.close_connection = True
            self._send_error(400, "ValidationException", str(bad))
        except (BrokenPipeError, ConnectionResetError, TimeoutError, OSError):
            # The client gave up (its read timeout fired, or a deadline abandoned the call), or went idle
            # mid-request past idle_timeout: nothing more to answer on this connection.
            self.close_connection = True
        except Exception:  # noqa: BLE001 - answer 500 rather than drop the connection
            self.close_connection = True
            if not self._started:
                self._send_error(500, "InternalServerException", "The system encountered an unexpected "
                                                                "error during processing. Try your request again.")

    def _send_error(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"message": message}).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("x-amzn-ErrorType", f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/")
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True

    def _answer(self) -> None:
        self._started = False
        body = self._read_body()
        reply = self.emulator.handle(self.command, self.path, dict(self.headers.items()), body)
        self._started = True
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

    def __init__(self, emulator: Any, host: str = "127.0.0.1", port: int = 0,
                 idle_timeout: float | None = None):
        # ``timeout`` is StreamRequestHandler's per-connection socket timeout: an idle keep-alive
        # connection (no next request within it) is closed by handle_one_request.
        handler = type("BoundHandler", (_Handler,), {
            "emulator": emulator, "timeout": IDLE_TIMEOUT if idle_timeout is None else idle_timeout})
        self.httpd = _Server((host, port), handler)
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
