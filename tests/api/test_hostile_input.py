# ruff: noqa: E501  (the tables read best one case a line)
"""Hostile input over real HTTP: each case answers a 4xx problem+json with a stable code,
stores nothing and calls no provider. The cases are tables: adding one is one line."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.ids import new_id
from app.core.settings import Settings
from app.main import create_app
from sandbox.runner import ServerThread
from tests.support.api import order_id, signed_stripe_post, stripe_signature

VALID: dict[str, Any] = {"order_id": "hostile", "amount": 1000, "currency": "USD"}


async def stored(db: AsyncEngine) -> dict[str, int]:
    async with db.connect() as connection:
        counts = {}
        for table in ("payments", "outbox_events", "webhook_events", "idempotency_keys"):
            query = text(f"SELECT count(*) FROM {table}")  # noqa: S608  (our table names)
            counts[table] = int(await connection.scalar(query))
    return counts


async def intents(admin: httpx.AsyncClient) -> int:
    return int((await admin.get("/_sandbox/stats")).json()["objects"]["payment_intents"])


def assert_problem(response: httpx.Response, status: int | None, code: str) -> None:
    assert response.status_code < 500, response.text
    if status is not None:
        assert response.status_code == status, response.text
    else:
        assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code, response.text


BAD_BODIES: list[tuple[str, bytes, str]] = [
    ("nul in order_id", json.dumps({**VALID, "order_id": "a\x00b"}).encode(), "validation_error"),
    ("nul in description", json.dumps({**VALID, "description": "x\x00"}).encode(), "validation_error"),
    ("nul in return_url", json.dumps({**VALID, "return_url": "https://a/\x00"}).encode(), "validation_error"),
    ("nul in a metadata value", json.dumps({**VALID, "metadata": {"k": "\x00"}}).encode(), "validation_error"),
    ("nul in a metadata key", json.dumps({**VALID, "metadata": {"k\x00": "v"}}).encode(), "validation_error"),
    ("lone surrogate in metadata", b'{"order_id": "o", "amount": 1000, "currency": "USD", "metadata": {"k": "\\udfff"}}', "validation_error"),
    ("lone surrogate in order_id", b'{"order_id": "\\ud800", "amount": 1000, "currency": "USD"}', "validation_error"),
    ("utf-16", json.dumps(VALID).encode("utf-16"), "malformed_body"),
    ("utf-16-le without a bom", json.dumps(VALID).encode("utf-16-le"), "malformed_body"),
    ("utf-8 with a bom", b"\xef\xbb\xbf" + json.dumps(VALID).encode(), "malformed_body"),
    ("latin-1", '{"order_id": "caf\xe9", "amount": 1000, "currency": "USD"}'.encode("latin-1"), "malformed_body"),
    ("a raw nul byte", b'{"order_id": "a\x00", "amount": 1000, "currency": "USD"}', "malformed_body"),
    ("nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000, "bad_request"),
    ("long s for usd", json.dumps({**VALID, "currency": "u\u017fd"}).encode(), "validation_error"),
    ("dotless i for idr", json.dumps({**VALID, "currency": "\u0131dr"}).encode(), "validation_error"),
    ("lower case currency", json.dumps({**VALID, "currency": "usd"}).encode(), "validation_error"),
    ("not json", b"amount=1000", "validation_error"),
    ("an array", b"[1, 2]", "validation_error"),
]  # fmt: skip


class TestBadBodies:
    @pytest.mark.parametrize(("case", "body", "code"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
    async def test_refused_and_nothing_stored_or_sent(
        self,
        api: httpx.AsyncClient,
        db: AsyncEngine,
        sandbox_admin: httpx.AsyncClient,
        case: str,
        body: bytes,
        code: str,
    ) -> None:
        before = await intents(sandbox_admin)
        response = await api.post(
            "/v1/payments",
            content=body,
            headers={"Content-Type": "application/json", "Idempotency-Key": "hostile"},
        )
        assert_problem(response, None, code)
        assert await stored(db) == dict.fromkeys(
            ("payments", "outbox_events", "webhook_events", "idempotency_keys"), 0
        )
        assert await intents(sandbox_admin) == before

    async def test_a_malformed_body_without_a_key_is_401_first(
        self, api_server: ServerThread, db: AsyncEngine
    ) -> None:
        async with httpx.AsyncClient(base_url=api_server.url) as anonymous:
            response = await anonymous.post(
                "/v1/payments", content=b"{not json", headers={"Content-Type": "application/json"}
            )
        assert_problem(response, 401, "unauthorized")


BAD_REQUESTS: list[tuple[str, str, str, int, str]] = [
    ("nul in order_id filter", "GET", "/v1/payments?order_id=a%00b", 422, "validation_error"),
    ("nul in a cursor", "GET", "/v1/payments?starting_after=pay_%00", 422, "validation_error"),
    ("a cursor not of ours", "GET", "/v1/payments?starting_after=zzz", 422, "validation_error"),
    ("an event cursor not of ours", "GET", "/v1/events?starting_after=zzz", 422, "validation_error"),
    ("nul in payment_id filter", "GET", "/v1/events?payment_id=%00", 422, "validation_error"),
    ("nul in a path id", "GET", "/v1/payments/pay_%00", 422, "validation_error"),
    ("a path id of 5,000", "GET", "/v1/payments/pay_" + "a" * 5000, 422, "validation_error"),
    ("nul in a refund id", "GET", "/v1/refunds/rf_%00", 422, "validation_error"),
    ("nul in an event id", "POST", "/v1/events/evt_%00/redeliver", 422, "validation_error"),
    ("a trailing slash", "GET", "/v1/payments/", 404, "not_found"),
]  # fmt: skip


class TestBadParameters:
    @pytest.mark.parametrize(
        ("case", "method", "url", "status", "code"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS]
    )
    async def test_refused(
        self, api: httpx.AsyncClient, case: str, method: str, url: str, status: int, code: str
    ) -> None:
        response = await api.request(method, url)
        assert_problem(response, status, code)

    async def test_a_public_path_with_a_nul_needs_no_key_to_be_refused(
        self, api_server: ServerThread
    ) -> None:
        async with httpx.AsyncClient(base_url=api_server.url) as anonymous:
            response = await anonymous.get("/v1/public/payments/pay_%00")
        assert_problem(response, 422, "validation_error")

    @pytest.mark.parametrize("key", ["cl\u00e9", "with space", "tab\there", "x" * 256, ""])
    async def test_an_idempotency_key_must_be_visible_ascii(
        self, api: httpx.AsyncClient, db: AsyncEngine, key: str
    ) -> None:
        response = await api.post(
            "/v1/payments",
            json={**VALID, "order_id": order_id("key")},
            headers=[(b"Idempotency-Key", key.encode("latin-1"))],
        )
        assert_problem(response, 422, "validation_error")
        assert (await stored(db))["payments"] == 0

    async def test_no_redirect_echoes_the_host(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/v1/payments/", headers={"Host": "evil.example"})
        assert response.status_code == 404
        assert "location" not in response.headers


class TestMethods:
    @pytest.mark.parametrize(
        ("path", "allowed"),
        [
            ("/v1/payments", "GET, POST"),
            (f"/v1/payments/{new_id('pay')}/refunds", "GET, POST"),
            (f"/v1/payments/{new_id('pay')}", "GET"),
        ],
    )
    async def test_options_and_405_name_every_method_of_the_path(
        self, api: httpx.AsyncClient, path: str, allowed: str
    ) -> None:
        options = await api.options(path)
        assert options.status_code == 204
        assert options.headers["allow"] == allowed
        wrong = await api.patch(path)
        assert_problem(wrong, 405, "method_not_allowed")
        assert wrong.headers["allow"] == allowed


def signed(
    event: dict[str, Any] | bytes, secret: str, **kwargs: Any
) -> tuple[bytes, dict[str, str]]:
    if isinstance(event, bytes):
        return event, {
            "Stripe-Signature": stripe_signature(event, secret, **kwargs),
            "Content-Type": "application/json",
        }
    return signed_stripe_post(event, secret, **kwargs)


def event(**changes: Any) -> dict[str, Any]:
    base = {
        "id": "evt_hostile",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": 1_700_000_000,
        "livemode": False,
        "data": {"object": {"id": "pi_hostile", "object": "payment_intent", "status": "succeeded",
                            "amount": 1000, "currency": "usd", "metadata": {}}},
    }  # fmt: skip
    base.update(changes)
    return base


BAD_WEBHOOKS: list[tuple[str, dict[str, Any] | bytes]] = [
    ("nul in the event id", event(id="evt_\x00")),
    ("nul in the object id", event(data={"object": {"id": "pi_\x00", "object": "payment_intent"}})),
    ("a lone surrogate", b'{"id": "evt_s", "object": "event", "type": "x.y", "created": 1, "data": {"object": {"id": "o", "d": "\\udfff"}}}'),
    ("nested 100,000 deep", b'{"id": "evt_d", "object": "event", "type": "x.y", "created": 1, "data": {"object": {"id": "o", "deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}}"),
    ("an event id of 5,000", event(id="evt_" + "a" * 5000)),
    ("a type of 5,000", event(type="a" * 5000)),
    ("a type with odd characters", event(type="payment_intent.succeeded\n")),
    ("a nul in a description", event(data={"object": {"id": "pi_x", "object": "charge", "description": "\x00"}})),
]  # fmt: skip


class TestSignedButHostileWebhooks:
    @pytest.mark.parametrize(("case", "body"), BAD_WEBHOOKS, ids=[c[0] for c in BAD_WEBHOOKS])
    async def test_refused_and_nothing_stored(
        self,
        api: httpx.AsyncClient,
        db: AsyncEngine,
        webhook_secret: str,
        case: str,
        body: dict[str, Any] | bytes,
    ) -> None:
        content, headers = signed(body, webhook_secret)
        response = await api.post("/v1/webhooks/stripe", content=content, headers=headers)
        assert_problem(response, 400, "webhook_payload_invalid")
        assert (await stored(db))["webhook_events"] == 0

    async def test_a_signature_from_the_future_is_refused_as_a_stale_one(
        self, api: httpx.AsyncClient, db: AsyncEngine, webhook_secret: str
    ) -> None:
        import time

        content, headers = signed(event(), webhook_secret, timestamp=int(time.time()) + 3600)
        response = await api.post("/v1/webhooks/stripe", content=content, headers=headers)
        assert_problem(response, 401, "webhook_signature_invalid")
        assert (await stored(db))["webhook_events"] == 0

    async def test_a_live_event_in_a_test_deployment_is_kept_not_applied(
        self, api: httpx.AsyncClient, db: AsyncEngine, webhook_secret: str
    ) -> None:
        created = (
            await api.post("/v1/payments", json={**VALID, "order_id": order_id("mode")})
        ).json()
        live = event(
            id="evt_live_one",
            livemode=True,
            data={"object": {"id": created["provider_reference"], "object": "payment_intent",
                             "status": "succeeded", "amount": 1000, "amount_received": 1000,
                             "currency": "usd", "livemode": True,
                             "metadata": {"payment_id": created["id"]}}},
        )  # fmt: skip
        content, headers = signed(live, webhook_secret)
        response = await api.post("/v1/webhooks/stripe", content=content, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "livemode_mismatch"
        assert (await api.get(f"/v1/payments/{created['id']}")).json()["status"] == (
            "requires_payment_method"
        )
        async with db.connect() as connection:
            outcome = await connection.scalar(
                text("SELECT outcome FROM webhook_events WHERE event_id = 'evt_live_one'")
            )
        assert outcome == "livemode_mismatch"


class TestProductionServesNoDocs:
    @pytest.mark.parametrize(
        ("environment", "api_docs", "served"),
        [
            ("production", None, False),
            ("production", True, True),
            ("development", None, True),
            ("development", False, False),
        ],
    )
    def test_documentation_only_where_it_should_be(
        self, settings: Settings, environment: str, api_docs: bool | None, served: bool
    ) -> None:
        app = create_app(
            settings.model_copy(update={"environment": environment, "api_docs": api_docs})
        )
        urls = (app.docs_url, app.redoc_url, app.openapi_url)
        assert urls == (("/docs", "/redoc", "/openapi.json") if served else (None, None, None))
