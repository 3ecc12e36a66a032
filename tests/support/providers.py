"""One provider as the parity tests see it: how to open a payment on it through our API, how
its customer pays, and what its sandbox holds. The tests about behaviour every provider
shares take a `psp` and run once per provider."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from sandbox.pingxx import signing
from tests.support.api import order_id, signed_stripe_post
from tests.support.sandbox import Knobs
from tests.support.stripe_js import StripeJs


class Psp(Protocol):
    name: str
    channel: str
    currency: str
    knobs: Knobs
    reference_prefix: str  # of the provider's payment objects: `pi_`, `ch_`
    # Settings a test's own app needs to reach this provider, and its timeout's name.
    settings: dict[str, Any]
    timeout_setting: str
    webhook_path: str
    succeeded_event: str  # the event type that says a payment object was paid

    @property
    def rotated(self) -> dict[str, Any]:
        """Settings whose secret key the provider no longer accepts."""
        ...

    def sign(self, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """A body and headers as the provider would deliver `event`."""
        ...

    def forge(self, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """The same, signed with a key that is not the provider's."""
        ...

    async def event_of(self, reference: str, event_type: str) -> dict[str, Any]:
        """The provider's newest event of this type about this object."""
        ...

    async def foreign_event(self) -> dict[str, Any]:
        """An event about a payment object made at the provider, not through us."""
        ...

    def body(self, name: str = "order", amount: int = 2000, **overrides: Any) -> dict[str, Any]:
        """A create body for a fresh order on this provider."""
        ...

    async def pay(self, payment: dict[str, Any]) -> None:
        """The customer pays the payment's provider object (a card, a QR scanned)."""
        ...

    async def pay_object(self, obj: dict[str, Any]) -> None:
        """The customer pays a provider object as the provider lists it."""
        ...

    async def state(self, reference: str) -> str:
        """`open`, `paid` or `closed` (canceled, reversed, expired, failed) at the provider."""
        ...

    async def events_about(self, reference: str) -> list[str]:
        """The ids of the provider's events whose object is this one, delivered or not."""
        ...

    async def resend(self, event_id: str) -> None:
        """The provider delivers an event again."""
        ...

    async def drain(self) -> None:
        """Until every delivery on its way, retries included, has landed."""
        ...

    async def refunds(self, reference: str) -> list[dict[str, Any]]:
        """The refunds the provider holds for a payment object."""
        ...

    async def refund_outside(self, reference: str, amount: int) -> None:
        """A refund made at the provider, not through us (the dashboard)."""
        ...

    async def settle_refund(self, reference: str, *, succeeded: bool) -> None:
        """A refund the provider left pending settles."""
        ...

    async def payment_objects(self, payment_id: str) -> list[dict[str, Any]]:
        """Every provider object made for one of our payments."""
        ...


@dataclass
class StripePsp:
    admin: httpx.AsyncClient
    stripe_js: StripeJs
    knobs: Knobs
    webhook_secret: str
    name: str = "stripe"
    channel: str = "stripe"
    currency: str = "USD"
    reference_prefix: str = "pi_"
    settings: dict[str, Any] = field(default_factory=dict)
    timeout_setting: str = "stripe_timeout_seconds"
    webhook_path: str = "/v1/webhooks/stripe"
    succeeded_event: str = "payment_intent.succeeded"

    @property
    def rotated(self) -> dict[str, Any]:
        return {"stripe_secret_key": "sk_test_rotated"}

    def sign(self, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        return signed_stripe_post(event, self.webhook_secret)

    def forge(self, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        return signed_stripe_post(event, "whsec_not_the_secret")

    async def event_of(self, reference: str, event_type: str) -> dict[str, Any]:
        listed = await self.admin.get("/v1/events", params={"type": event_type, "limit": 100})
        for event in listed.json()["data"]:
            if event["data"]["object"]["id"] == reference:
                found: dict[str, Any] = event
                return found
        raise AssertionError(f"no {event_type} event for {reference}")

    async def foreign_event(self) -> dict[str, Any]:
        made = await self.admin.post(
            "/v1/payment_intents", data={"amount": "700", "currency": "usd"}
        )
        assert made.status_code == 200, made.text
        return await self.event_of(made.json()["id"], "payment_intent.created")

    def body(self, name: str = "order", amount: int = 2000, **overrides: Any) -> dict[str, Any]:
        return {"order_id": order_id(name), "amount": amount, "currency": "USD", **overrides}

    async def pay(self, payment: dict[str, Any]) -> None:
        confirmed = await self.stripe_js.confirm(
            payment["payment_payload"]["client_secret"], "pm_card_visa"
        )
        assert confirmed.status_code == 200, confirmed.text

    async def pay_object(self, obj: dict[str, Any]) -> None:
        confirmed = await self.stripe_js.confirm(obj["client_secret"], "pm_card_visa")
        assert confirmed.status_code == 200, confirmed.text

    async def events_about(self, reference: str) -> list[str]:
        listed = (await self.admin.get("/v1/events", params={"limit": 100})).json()["data"]
        return [e["id"] for e in listed if e["data"]["object"].get("id") == reference]

    async def resend(self, event_id: str) -> None:
        sent = await self.admin.post(f"/_sandbox/events/{event_id}/resend")
        assert sent.status_code == 200, sent.text

    async def drain(self) -> None:
        await self.admin.post("/_sandbox/webhooks/drain", json={"timeout": 5}, timeout=10)

    async def state(self, reference: str) -> str:
        intent = await self.admin.get(f"/v1/payment_intents/{reference}")
        assert intent.status_code == 200, intent.text
        status = intent.json()["status"]
        return {"succeeded": "paid", "canceled": "closed"}.get(status, "open")

    async def refunds(self, reference: str) -> list[dict[str, Any]]:
        listed = await self.admin.get(
            "/v1/refunds", params={"payment_intent": reference, "limit": 100}
        )
        assert listed.status_code == 200, listed.text
        data: list[dict[str, Any]] = listed.json()["data"]
        return data

    async def refund_outside(self, reference: str, amount: int) -> None:
        made = await self.admin.post(
            "/v1/refunds", data={"payment_intent": reference, "amount": str(amount)}
        )
        assert made.status_code == 200, made.text

    async def settle_refund(self, reference: str, *, succeeded: bool) -> None:
        outcome = "succeed" if succeeded else "fail"
        settled = await self.admin.post(f"/_sandbox/refunds/{reference}/{outcome}")
        assert settled.status_code == 200, settled.text

    async def payment_objects(self, payment_id: str) -> list[dict[str, Any]]:
        # Newest first: what a test just made is on the first page.
        listed = await self.admin.get("/v1/payment_intents", params={"limit": 100})
        assert listed.status_code == 200, listed.text
        return [
            intent
            for intent in listed.json()["data"]
            if intent.get("metadata", {}).get("payment_id") == payment_id
        ]


@dataclass
class PingxxPsp:
    """Alipay QR on Ping++: the customer scans, the sandbox's control says so."""

    admin: httpx.AsyncClient
    knobs: Knobs
    secret_key: str
    app_id: str
    merchant_key: signing.PrivateKey
    webhook_key: signing.PrivateKey
    settings: dict[str, Any]
    name: str = "pingxx"
    channel: str = "pingxx:alipay_qr"
    currency: str = "CNY"
    reference_prefix: str = "ch_"
    timeout_setting: str = "pingxx_timeout_seconds"
    webhook_path: str = "/v1/webhooks/pingxx"
    succeeded_event: str = "charge.succeeded"

    @property
    def rotated(self) -> dict[str, Any]:
        return {**self.settings, "pingxx_secret_key": "sk_test_" + "R" * 24}

    def sign(
        self, event: dict[str, Any], key: signing.PrivateKey | None = None
    ) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(event, separators=(",", ":")).encode()
        signature = signing.sign_webhook(body, key or self.webhook_key)
        return body, {"X-Pingplusplus-Signature": signature, "Content-Type": "application/json"}

    def forge(self, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        return self.sign(event, signing.generate_private_key())

    async def event_of(self, reference: str, event_type: str) -> dict[str, Any]:
        listed = await self.admin.get(
            "/_sandbox/events", params={"object_id": reference, "type": event_type}
        )
        assert listed.status_code == 200, listed.text
        events: list[dict[str, Any]] = listed.json()["data"]
        assert events, f"no {event_type} event for {reference}"
        return events[0]

    async def foreign_event(self) -> dict[str, Any]:
        charge = await self._api(
            "POST",
            "/v1/charges",
            {
                "order_no": "F" + str(time.time_ns())[-19:],
                "app": {"id": self.app_id},
                "channel": "alipay_qr",
                "amount": 700,
                "currency": "cny",
                "client_ip": "127.0.0.1",
                "subject": "made elsewhere",
                "body": "made elsewhere",
            },
        )
        await self.pay_object(charge)
        return await self.event_of(charge["id"], "charge.succeeded")

    def body(self, name: str = "order", amount: int = 2000, **overrides: Any) -> dict[str, Any]:
        return {
            "order_id": order_id(name),
            "amount": amount,
            "currency": "CNY",
            "payment_channel": self.channel,
            "client_ip": "203.0.113.7",
            **overrides,
        }

    async def pay(self, payment: dict[str, Any]) -> None:
        paid = await self.admin.post(f"/_sandbox/charges/{payment['provider_reference']}/pay")
        assert paid.status_code == 200, paid.text

    async def pay_object(self, obj: dict[str, Any]) -> None:
        paid = await self.admin.post(f"/_sandbox/charges/{obj['id']}/pay")
        assert paid.status_code == 200, paid.text

    async def events_about(self, reference: str) -> list[str]:
        listed = await self.admin.get("/_sandbox/events", params={"object_id": reference})
        assert listed.status_code == 200, listed.text
        return [e["id"] for e in listed.json()["data"]]

    async def resend(self, event_id: str) -> None:
        sent = await self.admin.post(f"/_sandbox/events/{event_id}/resend", json={})
        assert sent.status_code == 200, sent.text

    async def drain(self) -> None:
        await self.admin.post("/_sandbox/webhooks/drain", json={"timeout": 5}, timeout=10)

    async def state(self, reference: str) -> str:
        shown = await self.admin.get(
            f"/_sandbox/charges/{reference}", headers={"Accept": "application/json"}
        )
        assert shown.status_code == 200, shown.text
        state: str = shown.json()["state"]
        return state if state in ("open", "paid") else "closed"

    async def _api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        content = json.dumps(body).encode() if body is not None else b""
        timestamp = str(int(time.time()))
        headers = {
            "Authorization": f"Bearer {self.secret_key}",
            "Content-Type": "application/json",
            **signing.sign_request(content, path, timestamp, self.merchant_key),
        }
        answer = await self.admin.request(method, path, content=content, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def refunds(self, reference: str) -> list[dict[str, Any]]:
        listed = await self._api("GET", f"/v1/charges/{reference}/refunds?limit=100")
        data: list[dict[str, Any]] = listed["data"]
        return data

    async def refund_outside(self, reference: str, amount: int) -> None:
        await self._api(
            "POST",
            f"/v1/charges/{reference}/refunds",
            {"amount": amount, "description": "made in the Ping++ dashboard"},
        )

    async def settle_refund(self, reference: str, *, succeeded: bool) -> None:
        # Ping++ announces a failed refund only where the channel reports one; without the
        # event it is the janitor that finds it (tests/workers/test_janitor.py).
        await self.knobs.set(emit_refund_failed=True)
        outcome = "succeed" if succeeded else "fail"
        settled = await self.admin.post(f"/_sandbox/refunds/{reference}/{outcome}", json={})
        assert settled.status_code == 200, settled.text

    async def payment_objects(self, payment_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        path = f"/v1/charges?app[id]={self.app_id}&limit=100"
        while True:
            page = await self._api("GET", path)
            found += [c for c in page["data"] if c["metadata"].get("payment_id") == payment_id]
            if not page["has_more"]:
                return found
            path = f"{path.split('&starting_after=')[0]}&starting_after={page['data'][-1]['id']}"
