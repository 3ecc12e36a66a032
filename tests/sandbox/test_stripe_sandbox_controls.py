"""The /_sandbox controls: stats, reset, runtime config, async payment states, the CLI."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import httpx
import pytest
import stripe

from sandbox.testing import StripeSandboxControl
from tests.support.processes import running

REPO_ROOT = Path(__file__).resolve().parents[2]


class TestStatsAndReset:
    @pytest.mark.asyncio
    async def test_stats_count_objects_and_calls_and_reset_clears_them(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        pi = await client.v1.payment_intents.create_async(
            {
                "amount": 1000,
                "currency": "usd",
                "payment_method_types": ["card"],
                "payment_method": "pm_card_visa",
                "confirm": True,
            }
        )
        await client.v1.payment_intents.retrieve_async(pi.id)
        stats = sandbox.stats()
        assert stats["objects"]["payment_intents"] == 1
        assert stats["objects"]["charges"] == 1
        assert stats["objects"]["events"] == 3
        assert stats["api_calls"]["POST /v1/payment_intents"] == 1
        assert stats["api_calls"]["GET /v1/payment_intents/{id}"] == 1

        sandbox.configure(latency_ms=50)
        sandbox.reset()
        stats = sandbox.stats()
        assert stats["objects"]["payment_intents"] == 0
        assert stats["api_calls_total"] == 0
        assert sandbox.configure()["latency_ms"] == 0
        with pytest.raises(stripe.InvalidRequestError):
            await client.v1.payment_intents.retrieve_async(pi.id)

    def test_bad_config_is_rejected(self, sandbox: StripeSandboxControl) -> None:
        response = sandbox.request("POST", "/_sandbox/config", {"failure_rate": 2})
        assert response.status_code == 400
        response = sandbox.request("POST", "/_sandbox/config", {"no_such_knob": 1})
        assert response.status_code == 400


class TestProcessing:
    @pytest.mark.asyncio
    async def test_processing_then_succeeded(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        pi = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})
        moved = sandbox.request("POST", f"/_sandbox/payment_intents/{pi.id}/processing")
        assert moved.json()["status"] == "processing"
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.payment_intents.cancel_async(pi.id)
        assert caught.value.code == "payment_intent_unexpected_state"
        done = sandbox.request("POST", f"/_sandbox/payment_intents/{pi.id}/succeed")
        assert done.json()["status"] == "succeeded"
        events = await client.v1.events.list_async({"type": "payment_intent.*"})
        assert [e.type for e in reversed(events.data)] == [
            "payment_intent.created",
            "payment_intent.processing",
            "payment_intent.succeeded",
        ]

    @pytest.mark.asyncio
    async def test_processing_then_failed(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        pi = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})
        sandbox.request("POST", f"/_sandbox/payment_intents/{pi.id}/processing")
        failed = sandbox.request("POST", f"/_sandbox/payment_intents/{pi.id}/fail").json()
        assert failed["status"] == "requires_payment_method"
        assert failed["last_payment_error"]["decline_code"] == "generic_decline"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_python_dash_m_runs_the_sandbox_standalone() -> None:
    port = _free_port()
    command = [sys.executable, "-m", "sandbox.stripe", "--port", str(port)]
    command += ["--webhook-url", "http://127.0.0.1:9/hooks", "--webhook-secret", "whsec_cli"]
    with running(command, ready=f"http://127.0.0.1:{port}/_sandbox/health", cwd=REPO_ROOT):
        health = httpx.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=1)
        assert health.json() == {"ok": True}
        endpoints = httpx.get(
            f"http://127.0.0.1:{port}/v1/webhook_endpoints",
            headers={"Authorization": "Bearer sk_test_sandbox"},
        ).json()
        assert [e["url"] for e in endpoints["data"]] == ["http://127.0.0.1:9/hooks"]
