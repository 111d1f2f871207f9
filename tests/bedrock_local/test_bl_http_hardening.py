"""bedrock_local over HTTP answers every request (issue 15), takes bursts of connections, closes idle ones, and
keeps a bounded recent-calls log.  Raw sockets, so the bytes on the wire are exactly the broken ones."""
from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from bl_helpers import HAIKU, make_client, user

from bedrock_local import Emulator

PATH = f"/model/{HAIKU.replace(':', '%3A')}/converse"
AUTH = "Authorization: AWS4-HMAC-SHA256 Credential=testing/20261201/us-east-1/bedrock/aws4_request\r\n"


@pytest.fixture
def server():
    emu = Emulator(seed=0)
    with emu.serve(idle_timeout=0.5) as srv:
        srv.emulator = emu
        yield srv


def connect(srv, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection((srv.host, srv.port), timeout=timeout)
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body (all error answers have one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed without an answer after {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", 0))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length]


def exchange(srv, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with connect(srv) as sock:
        sock.sendall(raw)
        return read_response(sock)


def post(body: bytes, extra_headers: str = "") -> bytes:
    return (f"POST {PATH} HTTP/1.1\r\nHost: x\r\n{AUTH}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra_headers}\r\n").encode() + body


def assert_bedrock_400(answer, message_part: str = "") -> None:
    status, headers, body = answer
    assert status == 400
    assert headers["x-amzn-errortype"].split(":")[0] == "ValidationException"
    assert message_part in json.loads(body)["message"]


@pytest.mark.parametrize("body", [
    b'{"messages": "hello"}',
    b'{"messages": [{"role": "user", "content": "hello"}]}',
    b'{"messages": [{"role": "user", "content": [{"text": 42}]}], "inferenceConfig": []}',
    b'{"messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"maxTokens": "9"}}',
    b'{"messages": [{"role": "user", "content": [{"image": "png"}]}]}',
    b'[1, 2, 3]',
    b'"just a string"',
])
def test_json_of_the_wrong_shape_is_a_400(server, body):
    assert_bedrock_400(exchange(server, post(body)), "Malformed input request")


def test_a_lone_surrogate_is_a_400(server):
    body = b'{"messages": [{"role": "user", "content": [{"text": "caf\\ud800 au lait"}]}]}'
    assert_bedrock_400(exchange(server, post(body)), "Malformed input request")
    # A proper surrogate pair is fine.
    ok = b'{"messages": [{"role": "user", "content": [{"text": "smile \\ud83d\\ude00"}]}]}'
    assert exchange(server, post(ok))[0] == 200


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "12 34"])
def test_a_bad_content_length_is_a_400_and_the_connection_closes(server, length):
    raw = (f"POST {PATH} HTTP/1.1\r\nHost: x\r\n{AUTH}Content-Length: {length}\r\n\r\n{{}}").encode()
    with connect(server) as sock:
        sock.sendall(raw)
        status, headers, body = read_response(sock)
        assert status == 400 and headers.get("connection") == "close"
        assert "Content-Length" in json.loads(body)["message"]
        assert sock.recv(10) == b""


@pytest.mark.parametrize("chunks", [
    b"zz\r\nhello\r\n0\r\n\r\n",              # size is not hex
    b"5\r\nhelloEXTRA\r\n0\r\n\r\n",          # the chunk is longer than its size
    b"-1\r\nx\r\n0\r\n\r\n",                  # negative size
    b"5\r\nhel",                              # the body ends mid-chunk (then the client half-closes)
])
def test_a_bad_chunked_body_is_a_400(server, chunks):
    head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\n{AUTH}Transfer-Encoding: chunked\r\n\r\n".encode()
    with connect(server) as sock:
        sock.sendall(head + chunks)
        sock.shutdown(socket.SHUT_WR)
        assert_bedrock_400(read_response(sock), "chunked request body")


def test_a_good_chunked_body_is_answered_and_the_connection_kept(server):
    body = json.dumps({"messages": user("hello there")}).encode()
    head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\n{AUTH}Transfer-Encoding: chunked\r\n\r\n".encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:10], body[10:])) + b"0\r\n\r\n"
    with connect(server) as sock:
        for _ in range(2):  # keep-alive: a second request on the same connection
            sock.sendall(head + chunked)
            status, _, answer = read_response(sock)
            assert status == 200 and "hello there" in json.loads(answer)["output"]["message"]["content"][0]["text"]


def test_200_simultaneous_connections_are_all_answered(server):
    n = 200
    ready = threading.Barrier(n)
    results: list = [None] * n
    body = json.dumps({"messages": user("ping")}).encode()

    def one(i: int) -> None:
        try:
            ready.wait(timeout=30)
            with connect(server, timeout=30) as sock:
                sock.sendall(post(body))
                results[i] = read_response(sock)[0]
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            results[i] = repr(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == [200] * n


def test_idle_connections_are_closed_after_the_idle_timeout(server):
    with connect(server) as sock:  # never sends anything
        started = time.monotonic()
        assert sock.recv(10) == b""
        assert 0.3 < time.monotonic() - started < 5
    with connect(server) as sock:  # one request, then idle on the kept-alive connection
        sock.sendall(post(json.dumps({"messages": user("hi")}).encode()))
        assert read_response(sock)[0] == 200
        started = time.monotonic()
        assert sock.recv(10) == b""
        assert 0.3 < time.monotonic() - started < 5


def test_control_plane_paths_answer_bad_input_too(server):
    for body in (b"[1]", b'{"jobName": 5}', b"\xff\xfe"):
        raw = (f"POST /model-invocation-job HTTP/1.1\r\nHost: x\r\n{AUTH}Content-Length: {len(body)}\r\n\r\n"
               ).encode() + body
        status, headers, _ = exchange(server, raw)
        assert status == 400 and headers["x-amzn-errortype"].startswith("ValidationException")


# --- the recent-calls log is bounded --------------------------------------------------------------------------------


def test_the_calls_log_keeps_only_the_most_recent_calls():
    emu = Emulator(max_calls=50)
    client = emu.attach(make_client())
    for i in range(120):
        client.converse(modelId=HAIKU, messages=user(f"question {i}"))
    calls = emu.calls
    assert len(calls) == 50
    assert calls[0].body["messages"][0]["content"][0]["text"] == "question 70"
    assert calls[-1].body["messages"][0]["content"][0]["text"] == "question 119"
    assert len(Emulator().calls) == 0 and Emulator()._calls.maxlen == 1000  # the default bound


def test_big_bodies_are_not_kept_unless_asked():
    big = "word " * 40_000  # 200 KB of text
    default, keep_all, keep_none = Emulator(), Emulator(keep_bodies=True), Emulator(keep_bodies=False)
    for emu in (default, keep_all, keep_none):
        client = emu.attach(make_client())
        client.converse(modelId=HAIKU, messages=user("small"))
        client.converse(modelId=HAIKU, messages=user(big))
    small_call, big_call = default.calls
    assert small_call.body["messages"] == user("small") and big_call.body is None
    assert big_call.body_bytes > 200_000 and big_call.input_tokens > 50_000  # the figures are still there
    assert keep_all.calls[1].body["messages"] == user(big)
    assert [c.body for c in keep_none.calls] == [None, None]


def test_a_big_body_refused_over_http_is_not_retained(server):
    body = b'{"messages": [{"role": "user", "content": [{"text": "' + b"x" * 5_000_000 + b'"}]}]}'
    raw = (f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body  # unsigned
    status, _, _ = exchange(server, raw)
    assert status == 403
    (call,) = server.emulator.calls
    assert call.error == "AccessDeniedException" and call.body is None and call.body_bytes == len(body)


def test_memory_held_by_the_log_stays_flat_over_many_big_requests():
    import gc
    import tracemalloc

    emu = Emulator(max_calls=100)
    client = emu.attach(make_client())
    text = "lorem ipsum dolor " * 3_000  # ~54 KB per request: above the body limit, so not kept

    def burst(n):
        for i in range(n):
            client.converse(modelId=HAIKU, messages=user(f"{i} {text}"), inferenceConfig={"maxTokens": 20})

    burst(120)  # fill the log to its bound first
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        burst(200)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(emu.calls) == 100
    assert grown < 2_000_000, f"the log grew by {grown} bytes over 200 requests of ~54 KB"
