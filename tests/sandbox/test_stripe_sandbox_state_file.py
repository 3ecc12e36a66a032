"""`state_file`: a sandbox restarted over the same file still has its objects; and the CLI."""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import stripe

from sandbox.runner import ServerThread
from sandbox.stripe import StripeSandboxConfig, create_app
from sandbox.stripe.__main__ import build_parser, config_from_args
from sandbox.stripe.config import RUNTIME_FIELDS
from sandbox.stripe.persistence import StateFileError

REPO_ROOT = Path(__file__).resolve().parents[2]
KEY = "sk_test_state"


def sdk(server: ServerThread) -> stripe.StripeClient:
    return stripe.StripeClient(
        KEY,
        base_addresses={"api": server.url},
        http_client=stripe.HTTPXClient(allow_sync_methods=True),
    )


def config_for(
    path: Path, webhook_endpoints: list[tuple[str, str]] | None = None
) -> StripeSandboxConfig:
    return StripeSandboxConfig(
        secret_key=KEY, state_file=str(path), seed=7, webhook_endpoints=webhook_endpoints or []
    )


class TestRestart:
    def test_a_payment_intent_created_before_a_restart_can_be_confirmed_after_it(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "stripe-state.json"
        params = {"amount": 2500, "currency": "usd", "payment_method_types": ["card"]}
        with ServerThread(create_app(config_for(path))) as first:
            created = sdk(first).v1.payment_intents.create(params, {"idempotency_key": "order-1"})
        assert path.exists()

        with ServerThread(create_app(config_for(path))) as second:
            client = sdk(second)
            fetched = client.v1.payment_intents.retrieve(created.id)
            assert (fetched.amount, fetched.client_secret) == (2500, created.client_secret)
            confirmed = client.v1.payment_intents.confirm(
                created.id, {"payment_method": "pm_card_visa"}
            )
            assert confirmed.status == "succeeded"
            replayed = client.v1.payment_intents.create(params, {"idempotency_key": "order-1"})
            assert replayed.id == created.id
            assert replayed.last_response.headers["idempotent-replayed"] == "true"
            types = [e.type for e in reversed(client.v1.events.list().data)]
            assert types == [
                "payment_intent.created",
                "charge.succeeded",
                "payment_intent.succeeded",
            ]
            # The id generator continues where it was instead of repeating the first run's ids.
            other = client.v1.payment_intents.create(params)
            assert other.id != created.id

        with ServerThread(create_app(config_for(path))) as third:
            assert sdk(third).v1.payment_intents.retrieve(created.id).status == "succeeded"
        assert [p.name for p in tmp_path.iterdir()] == ["stripe-state.json"]

    def test_payment_methods_keep_their_test_card_and_endpoints_survive(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "state.json"
        with ServerThread(create_app(config_for(path))) as first:
            client = sdk(first)
            pm = client.v1.payment_methods.create(
                {
                    "type": "card",
                    "card": {"number": "4000002500003155", "exp_month": 12, "exp_year": 2040},
                }
            )
            pi = client.v1.payment_intents.create(
                {
                    "amount": 1000,
                    "currency": "usd",
                    "payment_method_types": ["card"],
                    "payment_method": pm.id,
                }
            )
            endpoint = client.v1.webhook_endpoints.create(
                {"url": "http://127.0.0.1:9/hooks", "enabled_events": ["*"]}
            )
        with ServerThread(create_app(config_for(path))) as second:
            client = sdk(second)
            assert client.v1.payment_intents.confirm(pi.id).status == "requires_action"
            assert [e.id for e in client.v1.webhook_endpoints.list().data] == [endpoint.id]

    def test_configured_endpoints_are_not_added_twice(self, tmp_path: Path) -> None:
        path = tmp_path / "state.json"
        endpoints = [("http://127.0.0.1:9/hooks", "whsec_same")]
        for _ in range(2):
            with ServerThread(create_app(config_for(path, webhook_endpoints=endpoints))) as server:
                listed = sdk(server).v1.webhook_endpoints.list().data
        assert [e.url for e in listed] == ["http://127.0.0.1:9/hooks"]

    def test_the_file_is_written_before_the_answer(self, tmp_path: Path) -> None:
        path = tmp_path / "state.json"
        with ServerThread(create_app(config_for(path))) as server:
            pi = sdk(server).v1.payment_intents.create({"amount": 1000, "currency": "usd"})
            saved = json.loads(path.read_text())
        assert list(saved["stores"]["payment_intents"]) == [pi.id]

    def test_a_broken_state_file_stops_the_sandbox_from_starting(self, tmp_path: Path) -> None:
        path = tmp_path / "state.json"
        path.write_text("{not json")
        with pytest.raises(StateFileError, match=str(path)):
            create_app(config_for(path))


class TestCommandLine:
    def test_every_runtime_setting_has_a_flag(self) -> None:
        args = build_parser().parse_args(
            [
                "--latency-ms=5",
                "--failure-rate=0.5",
                "--failure-status=503",
                "--webhook-drop-rate=0.5",
                "--lose-response-next=2",
                "--refunds-pending",
                "--refund-failure-delay=3",
                "--webhook-retry-base=4",
                "--webhook-retry-max-delay=5",
                "--webhook-max-attempts=2",
                "--webhook-timeout=6",
                "--no-minimum-amounts",
                "--seed=9",
                "--public-url=http://sandbox.example",
                "--no-webhooks",
                "--no-replay-server-errors",
                "--server-error-next=1",
                "--state-file=/tmp/state.json",
            ]
        )
        config = config_from_args(args, [])
        default = StripeSandboxConfig()
        unchanged = [
            name for name in RUNTIME_FIELDS if getattr(config, name) == getattr(default, name)
        ]
        assert unchanged == []
        assert config.state_file == "/tmp/state.json"
        assert {f.name for f in dataclasses.fields(default)} >= set(RUNTIME_FIELDS)

    def test_python_dash_m_keeps_its_state_file(self, tmp_path: Path) -> None:
        path = tmp_path / "cli-state.json"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        command = [
            sys.executable,
            "-m",
            "sandbox.stripe",
            "--port",
            str(port),
            "--state-file",
            str(path),
            "--no-webhooks",
        ]
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": "Bearer sk_test_sandbox"}
        created_id = None
        for _ in range(2):
            process = subprocess.Popen(
                command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                deadline = time.monotonic() + 15
                while True:
                    try:
                        httpx.get(f"{base}/_sandbox/health", timeout=1)
                        break
                    except httpx.TransportError:
                        if time.monotonic() > deadline or process.poll() is not None:
                            raise
                        time.sleep(0.1)
                if created_id is None:
                    created = httpx.post(
                        f"{base}/v1/payment_intents",
                        data={"amount": "1000", "currency": "usd"},
                        headers=auth,
                    )
                    created_id = created.json()["id"]
                    assert httpx.get(f"{base}/_sandbox/config").json()["webhooks_enabled"] is False
                else:
                    fetched = httpx.get(f"{base}/v1/payment_intents/{created_id}", headers=auth)
                    assert fetched.status_code == 200
            finally:
                process.terminate()
                process.wait(timeout=10)
