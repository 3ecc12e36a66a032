"""Secrets never reach a log line: a real `payments-service serve` at DEBUG, the hostile
input suite and credentials in the wrong places thrown at it, then every line it wrote
scanned for every secret and token the run used."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine

from sandbox.runner import ServerThread
from tests.api.test_hostile_input import BAD_BODIES, BAD_REQUESTS, BAD_WEBHOOKS, signed
from tests.conftest import SANDBOX_PUBLISHABLE_KEY
from tests.support.api import order_id
from tests.support.served import served


async def refuse_outbox_writes(db: AsyncEngine, on: bool) -> None:
    async with db.begin() as connection:
        if on:
            await connection.execute(
                text(
                    "CREATE OR REPLACE FUNCTION refuse_outbox() RETURNS trigger LANGUAGE plpgsql "
                    "AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$"
                )
            )
            await connection.execute(
                text(
                    "CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox_events "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_outbox()"
                )
            )
        else:
            await connection.execute(text("DROP TRIGGER IF EXISTS refuse_outbox ON outbox_events"))


class TestNoSecretInAnyLogLine:
    async def test_after_the_hostile_suite_the_log_holds_no_secret(
        self,
        db: AsyncEngine,
        database_url: str,
        stripe_sandbox: ServerThread,
        tmp_path: Path,
    ) -> None:
        api_key = "log_scan_" + secrets.token_urlsafe(24)
        wrong_key = "log_scan_wrong_" + secrets.token_urlsafe(24)
        webhook_secret = "whsec_" + secrets.token_urlsafe(32)
        notification_secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        password = "pw_" + secrets.token_hex(12)
        with_password = make_url(database_url).set(password=password)
        env = {
            "PAYMENTS_DATABASE_URL": with_password.render_as_string(hide_password=False),
            "PAYMENTS_API_KEYS": api_key,
            "PAYMENTS_STRIPE_SECRET_KEY": "sk_test_sandbox",
            "PAYMENTS_STRIPE_PUBLISHABLE_KEY": SANDBOX_PUBLISHABLE_KEY,
            "PAYMENTS_STRIPE_WEBHOOK_SECRETS": webhook_secret,
            "PAYMENTS_STRIPE_API_BASE": stripe_sandbox.url,
            "PAYMENTS_NOTIFICATION_URL": f"http://orders:{password}@127.0.0.1:9/events",
            "PAYMENTS_NOTIFICATION_SECRET": notification_secret,
            "PAYMENTS_LOG_LEVEL": "DEBUG",
        }
        tokens: list[str] = []
        with served(env, tmp_path / "serve.log") as server:
            auth = {"Authorization": f"Bearer {api_key}"}
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                for _ in range(2):
                    made = await client.post(
                        "/v1/payments",
                        json={"order_id": order_id("log"), "amount": 1000, "currency": "USD"},
                        headers=auth,
                    )
                    payment: dict[str, Any] = made.json()
                    tokens.append(payment["client_token"])
                    pid, token = payment["id"], payment["client_token"]
                    await client.get(
                        f"/v1/public/payments/{pid}", headers={"X-Client-Token": token}
                    )
                    await client.get(f"/v1/public/payments/{pid}?client_token={token}")
                    await client.get(f"/v1/public/payments/{pid}?t={token}")
                await client.get(f"/v1/payments?api_key={api_key}&token={api_key}")
                await client.get(f"/v1/payments?key={wrong_key}", headers=auth)
                await client.get("/v1/payments", headers={"Authorization": f"Bearer {wrong_key}"})
                await client.get("/v1/payments", headers={"Authorization": f"Basic {api_key}"})
                for _, body, _ in BAD_BODIES:
                    await client.post(
                        "/v1/payments",
                        content=body,
                        headers={**auth, "Content-Type": "application/json"},
                    )
                for _, method, url, _, _ in BAD_REQUESTS:
                    await client.request(method, url, headers=auth)
                for _, event in BAD_WEBHOOKS:
                    content, headers = signed(event, webhook_secret)
                    await client.post("/v1/webhooks/stripe", content=content, headers=headers)
                await client.post(
                    "/v1/webhooks/stripe",
                    content=b"{}",
                    headers={"Stripe-Signature": f"t=1,v1={webhook_secret}"},
                )
                # A database error with statement parameters in it (the token digests,
                # the caller's key digest): the parameters never appear.
                await refuse_outbox_writes(db, True)
                try:
                    failed = await client.post(
                        "/v1/payments",
                        json={"order_id": order_id("log"), "amount": 1000, "currency": "USD"},
                        headers={**auth, "Idempotency-Key": "log-scan"},
                    )
                    assert failed.status_code == 500
                finally:
                    await refuse_outbox_writes(db, False)
            log = server.output()

        assert "GET /v1/payments" in log, "the access log wrote nothing"
        assert "parameters hidden" in log or "refused" in log
        for secret in (api_key, wrong_key, webhook_secret, notification_secret, password, *tokens):
            assert secret not in log, f"a secret reached the log: {secret[:12]}..."


class TestWhatUvicornRefusesBeforeTheApp:
    async def test_a_control_character_in_a_header_is_a_problem_too(
        self, database_url: str, stripe_sandbox: ServerThread, tmp_path: Path
    ) -> None:
        """uvicorn refuses the request before the app sees it; our protocol class still
        answers it as problem+json (and closes the connection, as uvicorn does)."""
        import asyncio
        import json

        env = {
            "PAYMENTS_DATABASE_URL": database_url,
            "PAYMENTS_API_KEYS": "k_" + secrets.token_urlsafe(24),
            "PAYMENTS_STRIPE_SECRET_KEY": "sk_test_sandbox",
            "PAYMENTS_STRIPE_PUBLISHABLE_KEY": SANDBOX_PUBLISHABLE_KEY,
            "PAYMENTS_STRIPE_WEBHOOK_SECRETS": "whsec_" + secrets.token_urlsafe(32),
            "PAYMENTS_STRIPE_API_BASE": stripe_sandbox.url,
        }
        with served(env, tmp_path / "serve.log") as server:
            port = int(server.url.rsplit(":", 1)[1])
            for raw in (
                b"GET /v1/payments HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n",
                b"GET /v1/payments HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
                b"GET /v1/pay\x00ments HTTP/1.1\r\nHost: x\r\n\r\n",
            ):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(raw)
                answer = await asyncio.wait_for(reader.read(), 10)
                writer.close()
                head, _, body = answer.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 400"), answer
                assert b"content-type: application/problem+json" in head.lower()
                assert json.loads(body)["code"] == "malformed_request"
