"""`payments-service dev` as a newcomer runs it: both sandboxes, the API and the built-in
notification receiver; the README's Ping++ walkthrough against it; and a second run that
finds what the first one made, at the sandboxes as in the database."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.support.processes import running

COMMAND = str(Path(sys.executable).parent / "payments-service")
KEY = "dev_local_api_key_do_not_use_in_production"


@contextmanager
def dev(data_dir: Path, database_url: str, log: Path, ports: dict[str, int]) -> Iterator[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")}
    environment.update(
        {
            "PAYMENTS_DATA_DIR": str(data_dir),
            "PAYMENTS_DATABASE_URL": database_url,
            "PORT": str(ports["api"]),
            "SANDBOX_PORT": str(ports["stripe"]),
        }
    )
    url = f"http://127.0.0.1:{ports['api']}"
    command = [COMMAND, "dev", "--receiver-port", str(ports["receiver"])]
    with running(command, ready=f"{url}/readyz", env=environment, log=log, seconds=60):
        yield url


def wait_for_line(log: Path, needle: str, seconds: float = 20) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if needle in line:
                return line
        time.sleep(0.1)
    raise AssertionError(f"no line with {needle!r} in:\n{log.read_text()}")


@pytest.fixture
def ports() -> dict[str, int]:
    stripe = free_port()
    # Ping++'s sandbox takes the port after the Stripe one's.
    while True:
        try:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", stripe + 1))
            break
        except OSError:
            stripe = free_port()
    return {"api": free_port(), "stripe": stripe, "receiver": free_port()}


def test_the_walkthrough_twice_in_a_row(
    tmp_path: Path, database_url: str, ports: dict[str, int]
) -> None:
    log = tmp_path / "dev.log"
    auth = {"Authorization": f"Bearer {KEY}"}
    pingxx = f"http://127.0.0.1:{ports['stripe'] + 1}"
    order = f"order-{time.monotonic_ns()}"
    with dev(tmp_path / "data", database_url, log, ports) as api:
        banner = wait_for_line(log, "Ping++ sandbox")
        assert pingxx in banner
        created = httpx.post(
            f"{api}/v1/payments",
            headers=auth,
            json={
                "order_id": order,
                "amount": 1999,
                "currency": "CNY",
                "payment_channel": "pingxx:alipay_qr",
                "client_ip": "127.0.0.1",
            },
        )
        assert created.status_code == 201, created.text
        payment = created.json()
        assert payment["payment_payload"]["credential"]["alipay_qr"]
        paid = httpx.post(f"{pingxx}/_sandbox/charges/{payment['provider_reference']}/pay")
        assert paid.status_code == 200, paid.text
        line = wait_for_line(log, f"payment.succeeded {payment['id']}")
        assert "signature verified" in line
        refund = httpx.post(
            f"{api}/v1/payments/{payment['id']}/refunds", headers=auth, json={"amount": 500}
        )
        assert refund.status_code == 201, refund.text
        wait_for_line(log, "[notification] refund.succeeded")

    with dev(tmp_path / "data", database_url, log, ports) as api:
        # The sandboxes remember what the database holds: the charge is still there.
        detail = httpx.get(
            f"{api}/v1/payments/{payment['id']}/detail?refresh=true", headers=auth
        ).json()
        assert detail["provider_object_refreshed"] is True
        assert detail["provider_object"]["amount_refunded"] == 500
        rest = httpx.post(f"{api}/v1/payments/{payment['id']}/refunds", headers=auth, json={})
        assert rest.status_code == 201, rest.text
        assert rest.json()["amount"] == 1499
        card = httpx.post(
            f"{api}/v1/payments",
            headers=auth,
            json={"order_id": f"{order}-card", "amount": 2000, "currency": "USD"},
        )
        assert card.status_code == 201, card.text


@pytest.mark.parametrize(
    ("provider", "flags", "setting"),
    [
        ("stripe", ["--latency-ms", "7"], ("latency_ms", 7)),
        ("pingxx", ["--webhook-drop-rate", "0.5"], ("webhook_drop_rate", 0.5)),
    ],
)
def test_the_sandbox_command_takes_the_sandboxes_own_flags(
    provider: str, flags: list[str], setting: tuple[str, object]
) -> None:
    port = free_port()
    command = [COMMAND, "sandbox", provider, "--port", str(port), *flags]
    with running(command, ready=f"http://127.0.0.1:{port}/_sandbox/health"):
        config = httpx.get(f"http://127.0.0.1:{port}/_sandbox/config", timeout=5)
    name, value = setting
    assert config.json()[name] == value
