"""`payments-service dev`: the embedded PostgreSQL, both offline sandboxes, a notification
receiver and the API with its workers, wired to each other, on one machine.

Everything a second run needs to pick up where the first stopped lives under
`<data_dir>/dev/`: the sandboxes' state files (so the payments in the database still exist
at "Stripe" and "Ping++"), the Stripe webhook secret, the Ping++ keys, the notification
secret. Deleting `.data/` starts from nothing.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SANDBOX_SECRET_KEY = "sk_test_sandbox"  # noqa: S105  (the offline sandbox's own key)
SANDBOX_PUBLISHABLE_KEY = "pk_test_sandbox"
PINGXX_SANDBOX_APP_ID = "app_SandboxApp000001"  # the Ping++ sandbox's default app
RECEIVER_PATH = "/payment-events"


@dataclass(frozen=True)
class Ports:
    api: int
    stripe: int
    pingxx: int
    receiver: int


@dataclass(frozen=True)
class DevSecrets:
    """Made once under `<data_dir>/dev/`, read again on every later run."""

    folder: Path
    stripe_webhook_secret: str
    notification_secret: str
    pingxx_merchant_key: Path  # ours, PEM; the Ping++ sandbox holds its public half
    pingxx_merchant_public_key: Path
    pingxx_webhook_key: Path  # the Ping++ sandbox's, PEM (it signs webhooks with it)
    pingxx_webhook_public_key: Path  # written by the sandbox at start

    @property
    def stripe_state(self) -> Path:
        return self.folder / "stripe-sandbox.json"

    @property
    def pingxx_state(self) -> Path:
        return self.folder / "pingxx-sandbox.json"


def _kept(path: Path, make: str) -> str:
    if not path.exists():
        path.write_text(make)
        path.chmod(0o600)
    return path.read_text().strip()


def _new_rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def dev_secrets(data_dir: Path) -> DevSecrets:
    folder = data_dir / "dev"
    folder.mkdir(parents=True, exist_ok=True)
    merchant_key = folder / "pingxx-merchant-key.pem"
    _kept(merchant_key, _new_rsa_pem())
    merchant_public = folder / "pingxx-merchant-public.pem"
    loaded = serialization.load_pem_private_key(merchant_key.read_bytes(), password=None)
    merchant_public.write_bytes(
        loaded.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return DevSecrets(
        folder=folder,
        stripe_webhook_secret=_kept(
            folder / "stripe-webhook-secret", "whsec_" + secrets.token_hex(24)
        ),
        notification_secret=_kept(
            folder / "notification-secret",
            "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
        ),
        pingxx_merchant_key=merchant_key,
        pingxx_merchant_public_key=merchant_public,
        pingxx_webhook_key=folder / "pingxx-webhook-key.pem",
        pingxx_webhook_public_key=folder / "pingxx-webhook-public.pem",
    )


def sandbox_commands(ports: Ports, kept: DevSecrets) -> dict[str, list[str]]:
    """Separate programs: the app starts them, never imports them."""
    api = f"http://127.0.0.1:{ports.api}"
    python = [sys.executable, "-m"]
    return {
        "stripe": [
            *python,
            "sandbox.stripe",
            "--port",
            str(ports.stripe),
            "--webhook-url",
            f"{api}/v1/webhooks/stripe",
            "--webhook-secret",
            kept.stripe_webhook_secret,
            "--state-file",
            str(kept.stripe_state),
        ],
        "pingxx": [
            *python,
            "sandbox.pingxx",
            "--port",
            str(ports.pingxx),
            "--merchant-public-key",
            str(kept.pingxx_merchant_public_key),
            "--webhook-private-key",
            str(kept.pingxx_webhook_key),
            "--webhook-public-key-out",
            str(kept.pingxx_webhook_public_key),
            "--webhook-url",
            f"{api}/v1/webhooks/pingxx",
            "--state-file",
            str(kept.pingxx_state),
        ],
    }


def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{' '.join(process.args)} exited with {process.returncode}")  # type: ignore[arg-type]
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answered at {url}")


@contextlib.contextmanager
def sandboxes(ports: Ports, kept: DevSecrets) -> Iterator[None]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        for name, command in sandbox_commands(ports, kept).items():
            process = subprocess.Popen(command)  # noqa: S603
            started.append(process)
            port = ports.stripe if name == "stripe" else ports.pingxx
            wait_until_up(f"http://127.0.0.1:{port}/_sandbox/stats", process)
        yield
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def receiver_app(secret: str, out: list[str] | None = None) -> Starlette:
    """What the order service would see: each notification, its signature checked."""
    webhook = Webhook(secret)

    async def receive(request: Request) -> Response:
        body = await request.body()
        try:
            event = webhook.verify(body, dict(request.headers))
        except WebhookVerificationError as exc:
            line = f"[notification] REFUSED ({exc}): {body[:120]!r}"
            status = 400
        else:
            data = event.get("data", {})
            line = (
                f"[notification] {event.get('type')} {data.get('id')} "
                f"status={data.get('status')} amount={data.get('amount')} "
                f"{data.get('currency')} (signature verified, webhook-id "
                f"{request.headers.get('webhook-id')})"
            )
            status = 200
        print(line, flush=True)
        if out is not None:
            out.append(line)
        return JSONResponse({"received": status == 200}, status_code=status)

    return Starlette(routes=[Route(RECEIVER_PATH, receive, methods=["POST"])])


class ReceiverThread:
    def __init__(self, app: Starlette, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="notifications", daemon=True)

    def __enter__(self) -> ReceiverThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise SystemExit("the notification receiver did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


def banner(ports: Ports, database: str, api_key: str, receiver: str) -> str:
    api = f"http://127.0.0.1:{ports.api}"
    return f"""
payments-service dev
  API             {api}   (docs: {api}/docs)
  Stripe sandbox  http://127.0.0.1:{ports.stripe}   (webhooks -> {api}/v1/webhooks/stripe)
  Ping++ sandbox  http://127.0.0.1:{ports.pingxx}   (webhooks -> {api}/v1/webhooks/pingxx)
  notifications   {receiver}
  database        {database}
  API key         {api_key}

Try it:
  curl -s -X POST {api}/v1/payments \\
    -H 'Authorization: Bearer {api_key}' -H 'Content-Type: application/json' \\
    -d '{{"order_id": "order-1", "amount": 2000, "currency": "USD"}}'
  curl -s -X POST {api}/v1/payments \\
    -H 'Authorization: Bearer {api_key}' -H 'Content-Type: application/json' \\
    -d '{{"order_id": "order-2", "amount": 1999, "currency": "CNY",
         "payment_channel": "pingxx:alipay_qr", "client_ip": "127.0.0.1"}}'
"""


def read_public_key(path: Path, seconds: float = 10.0) -> str:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"the Ping++ sandbox wrote no public key to {path}")
        time.sleep(0.05)
    return path.read_text()
