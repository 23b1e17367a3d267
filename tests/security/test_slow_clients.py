"""Pre-authentication exhaustion (issue 11, finding 5), with raw sockets on loopback: a request head is
bounded, and a head or body that does not arrive in time is answered 408, per connection."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
import pytest

LIMITS = {"max_header_bytes": 8_192, "header_timeout_seconds": 1.0, "body_timeout_seconds": 1.0}


@pytest.fixture
def server(server_with_fake) -> tuple[str, int]:
    url = server_with_fake(**LIMITS)
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


@contextmanager
def connection(server: tuple[str, int]) -> Iterator[socket.socket]:
    sock = socket.create_connection(server, timeout=30)  # generous: only a server that never answers fails
    try:
        yield sock
    finally:
        sock.close()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The whole response of a server that closes the connection after it."""
    data = b""
    while chunk := sock.recv(65_536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def test_a_head_larger_than_the_limit_is_431_and_the_connection_closed(server):
    with connection(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ")
        try:
            for _ in range(64):  # up to 1 MB of one header that never ends
                sock.sendall(b"a" * 16_384)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed while we were still sending: the answer is already waiting
        status, headers, body = read_response(sock)
    assert status == 431 and headers["connection"] == "close"
    assert orjson.loads(body)["error"]["code"] == "headers_too_large"


@pytest.mark.parametrize("sent", [b"", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"])
def test_a_head_that_never_ends_is_408(server, sent):
    with connection(server) as sock:
        sock.sendall(sent)
        status, _, body = read_response(sock)
    assert status == 408
    assert orjson.loads(body)["error"] == {
        "code": "request_timeout",
        "message": "the request headers took too long to arrive",
    }


def test_a_body_that_never_ends_is_408_while_other_connections_are_served(server):
    request = (
        b"POST /api/chat/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 200\r\n\r\n"
    )
    with connection(server) as slow, connection(server) as other:
        slow.sendall(request + b'{"userInput": "')
        other.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert read_response(other)[0] == 200
        status, _, body = read_response(slow)
    assert status == 408
    assert orjson.loads(body)["error"]["message"] == "the request body took too long to arrive"


def test_a_kept_alive_connection_serves_one_request_after_another(server):
    with connection(server) as sock:
        for _ in range(3):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            response = b""
            while not response.endswith(b'{"status":"ok"}'):
                response += sock.recv(65_536)
            assert response.startswith(b"HTTP/1.1 200")
