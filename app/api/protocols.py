"""uvicorn's HTTP protocols, answering a request they cannot parse (a control character in
a header, a malformed request line) with problem+json like every other error, instead of
uvicorn's plain text. The app never sees such a request: this is the only place that can.

`payments-service serve` passes these to uvicorn (`--http` equivalent).
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

PROBLEM = json.dumps(
    {
        "type": "/problems/malformed_request",
        "title": "The HTTP request could not be parsed",
        "status": 400,
        "detail": "The request line or a header is malformed (a control character, an "
        "invalid name); nothing was done",
        "code": "malformed_request",
        "retryable": False,
    },
    separators=(",", ":"),
).encode()


def _response(default_headers: list[tuple[bytes, bytes]]) -> bytes:
    lines = [b"HTTP/1.1 400 Bad Request"]
    lines += [name + b": " + value for name, value in default_headers]
    lines += [
        b"content-type: application/problem+json",
        b"content-length: " + str(len(PROBLEM)).encode(),
        b"connection: close",
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + PROBLEM


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        self.transport.write(_response(self.server_state.default_headers))
        self.transport.close()


class ProblemH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        self.transport.write(_response(self.server_state.default_headers))
        self.transport.close()


HTTP_PROTOCOL = f"{__name__}:ProblemHttpToolsProtocol"
