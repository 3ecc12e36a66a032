"""Builders, Stripe-style signing and a stub Stripe HTTP server for the adapter tests."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FIXTURES: dict[str, Any] = json.loads(
    (Path(__file__).parent / "fixtures" / "stripe_fixtures.json").read_text()
)

PUBLISHABLE_KEY = "pk_test_publishable"
SECRET_KEY = "sk_test_secret_do_not_print"
WEBHOOK_SECRET = "whsec_current_secret"
OLD_WEBHOOK_SECRET = "whsec_previous_secret"


def payment_intent_fixture(**overrides: Any) -> dict[str, Any]:
    payment_intent: dict[str, Any] = copy.deepcopy(FIXTURES["payment_intent"])
    payment_intent["metadata"] = {
        "payment_id": "pay_01m8sva1cet3z4x9k2d7w5q8rb",
        "order_id": "order_9",
    }
    payment_intent.update(overrides)
    return payment_intent


def refund_fixture(**overrides: Any) -> dict[str, Any]:
    refund: dict[str, Any] = copy.deepcopy(FIXTURES["refund"])
    refund.update(overrides)
    return refund


def event_fixture(data_object: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(FIXTURES["event"])
    event.update(
        {
            "id": "evt_123",
            "type": f"{data_object.get('object', 'thing')}.updated",
            "created": 1_700_000_000,
            "data": {"object": data_object},
        }
    )
    event.update(overrides)
    return event


def stripe_signature(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """What Stripe sends: `t=<unix>,v1=<hex hmac-sha256(secret, "<t>.<body>")>`."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def stripe_error_body(error_type: str, message: str, **fields: Any) -> dict[str, Any]:
    return {"error": {"type": error_type, "message": message, **fields}}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


Responder = Callable[[RecordedRequest], tuple[int, dict[str, Any]]]


@dataclass
class StubStripeServer:
    """A minimal HTTP server that answers like Stripe with canned bodies and records requests."""

    responder: Responder = field(default=lambda request: (500, {"error": {"type": "api_error"}}))
    requests: list[RecordedRequest] = field(default_factory=list)
    base_url: str = ""


@contextmanager
def running_stub_stripe() -> Iterator[StubStripeServer]:
    stub = StubStripeServer()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            split = urlsplit(self.path)
            form = dict(parse_qsl(raw or split.query, keep_blank_values=True))
            request = RecordedRequest(
                method=self.command,
                path=split.path,
                headers={key.lower(): value for key, value in self.headers.items()},
                form=form,
            )
            stub.requests.append(request)
            status, body = stub.responder(request)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Request-Id", "req_stub")
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _handle
        do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
