"""Refuse oversized and malformed bodies before anything reads them."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import from_app_error
from app.core import errors


class BodySizeLimit:
    """The whole body is read (up to the limit) before the app runs, so a body that turns
    out too large, with or without a Content-Length, is refused before any handler has
    acted on part of it. A JSON body must be UTF-8: `json.loads` would also take UTF-16
    and a byte order mark, and store what the caller never meant to send."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._reject(scope, receive, send)
                return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away before the body ended: nothing to answer.
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and _declares_json(scope) and not _is_utf8_json_text(body):
            await _problem(errors.MalformedBody(), scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            # After the body, the app only ever waits for the disconnect.
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = errors.RequestTooLarge(f"The body may be at most {self.max_bytes} bytes")
        await _problem(error, scope, receive, send)


async def _problem(error: errors.AppError, scope: Scope, receive: Receive, send: Send) -> None:
    await from_app_error(error)(scope, receive, send)


def _declares_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media_type: bytes = value.split(b";", 1)[0].strip().lower()
            return media_type == b"application/json" or media_type.endswith(b"+json")
    # FastAPI parses a body without a Content-Type as JSON too.
    return True


def _is_utf8_json_text(body: bytes) -> bool:
    if body.startswith(b"\xef\xbb\xbf") or b"\x00" in body:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
