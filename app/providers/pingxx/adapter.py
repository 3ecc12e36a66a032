"""The Ping++ PaymentProvider (Alipay and WeChat Pay): its REST API over httpx, with RSA
request signatures when the merchant key is configured.

Ping++ has no idempotency header. A charge's `order_no` is derived from our payment id, so
a retried create is recognised: inside Ping++'s replay window it answers the first charge,
after it a repeated `order_no` is refused and the charge is found by listing the app's
charges. A refund carries our refund id in its metadata, and the charge's refunds are read
before one is made, so a retried refund finds the first.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlencode

import httpx

from app.providers.base import (
    CreatePayment,
    CreateRefund,
    OperationNotSupported,
    PaymentStatus,
    ProviderError,
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
    ProviderRejected,
    ProviderUnavailable,
    RequestNotAccepted,
    money,
)
from app.providers.pingxx import transformers
from app.providers.pingxx.signing import (
    REQUEST_SIGNATURE_HEADER,
    REQUEST_TIMESTAMP_HEADER,
    load_private_key,
    load_public_key,
    sign_request,
)
from app.providers.pingxx.transformers import (
    CHANNELS,
    MAX_OPEN_SECONDS,
    MIN_OPEN_SECONDS,
    PROVIDER,
    order_no,
    payment_from_charge,
    refund_from_pingxx,
)
from app.providers.pingxx.webhooks import event_from_dict, parse_webhook

DEFAULT_API_BASE: Final = "https://api.pingxx.com"
# How far back a charge whose create answer was lost is looked for, and in how many pages.
_RECOVERY_WINDOW_SECONDS: Final = 600
_RECOVERY_PAGES: Final = 20
# What Ping++ checks in `extra` (its channel reference), checked here first so a caller's
# mistake is a 422 naming the field, not a refusal after the payment was stored.
_EXTRA_LENGTHS: Final = {"open_id": 128, "product_id": 32, "goods_tag": 32}
_EXTRA_URLS: Final = frozenset({"success_url", "cancel_url", "result_url"})
_SUBJECT_CHARS: Final = 32
_BODY_CHARS: Final = 128
_DESCRIPTION_CHARS: Final = 255


class PingxxProvider:
    name = "pingxx"
    methods: frozenset[str] = frozenset(CHANNELS)

    def __init__(
        self,
        *,
        secret_key: str,
        app_id: str,
        public_key: str | None,
        private_key: str | None = None,
        api_base: str = DEFAULT_API_BASE,
        timeout_seconds: float = 20.0,
    ) -> None:
        if not secret_key or not app_id:
            raise ValueError("PingxxProvider needs a secret key and an app id")
        self.livemode = secret_key.startswith("sk_live_")
        self._app_id = app_id
        self._public_key = load_public_key(public_key) if public_key else None
        self._private_key = load_private_key(private_key) if private_key else None
        self._http = httpx.AsyncClient(
            base_url=api_base.rstrip("/"),
            timeout=timeout_seconds,
            headers={"Authorization": f"Bearer {secret_key}", "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"PingxxProvider(app_id={self._app_id!r})"

    # -- checks before anything is stored -----------------------------------------------

    def check_amount(self, amount: int, currency: str, *, refund: bool = False) -> None:
        transformers.check_amount(amount, currency, refund=refund)

    def check_request(self, request: CreatePayment) -> None:
        if not request.client_ip:
            raise RequestNotAccepted("client_ip", "Ping++ needs the customer's IP address")
        required, _ = CHANNELS[request.method]
        extra = self._extra(request)
        missing = sorted(required - set(extra))
        if missing == ["success_url"]:
            raise RequestNotAccepted(
                "return_url", f"the {request.method} channel needs return_url (extra.success_url)"
            )
        if missing:
            raise RequestNotAccepted(
                "extra", f"the {request.method} channel needs extra.{', extra.'.join(missing)}"
            )
        for name, value in extra.items():
            longest = _EXTRA_LENGTHS.get(name)
            if longest is not None and not 0 < len(value) <= longest:
                raise RequestNotAccepted("extra", f"extra.{name} takes 1 to {longest} characters")
            if name in _EXTRA_URLS and not value.startswith(("https://", "http://")):
                raise RequestNotAccepted("extra", f"extra.{name} must be an http(s) URL")
        if extra.get("limit_pay", "no_credit") != "no_credit":
            raise RequestNotAccepted("extra", "extra.limit_pay can only be no_credit")

    # -- payments ------------------------------------------------------------------------

    async def create_payment(self, request: CreatePayment, idempotency_key: str) -> ProviderPayment:
        self.check_request(request)
        body = self._charge_body(request)
        charge: Mapping[str, Any]
        try:
            charge = await self._call("POST", "/v1/charges", body=body)
        except ProviderRejected as refused:
            if refused.code != "charge_order_no_used":
                raise
            # Made by an earlier attempt whose answer was lost, outside the replay window.
            charge = await self._recover(body, request.created_at)
        payment = payment_from_charge(charge)
        if (
            "credential" not in payment.payload
            and payment.status is PaymentStatus.REQUIRES_PAYMENT_METHOD
        ):
            # Ping++ hands the credential out in the create answer only: a charge found
            # again can never be paid by anyone, so it is closed and nothing was made.
            await self._close_quietly(payment.reference, request.method)
            raise ProviderRejected(
                "the charge's credential was lost with its create answer",
                provider=PROVIDER,
                code="credential_lost",
            )
        return payment

    async def retrieve_payment(self, reference: str) -> ProviderPayment:
        return payment_from_charge(await self._call("GET", f"/v1/charges/{reference}"))

    async def cancel_payment(
        self, reference: str, idempotency_key: str, *, abandoned: bool = False
    ) -> ProviderPayment:
        current = await self.retrieve_payment(reference)
        if current.status is not PaymentStatus.REQUIRES_PAYMENT_METHOD:
            raise ProviderRejected(
                f"the charge is {current.status.value}",
                provider=PROVIDER,
                code="charge_not_open",
                payment=current,
            )
        channel = str(current.raw.get("channel"))
        if not CHANNELS.get(channel, (frozenset(), False))[1]:
            raise OperationNotSupported(
                f"a {channel} charge cannot be closed; it lapses at its time_expire",
                provider=PROVIDER,
            )
        try:
            return payment_from_charge(await self._call("POST", f"/v1/charges/{reference}/reverse"))
        except ProviderRejected as refused:
            # Paid (or closed) between our read and the reverse: say what it is now.
            raise refused.about(await self.retrieve_payment(reference)) from refused

    # -- refunds -------------------------------------------------------------------------

    async def refund(self, request: CreateRefund, idempotency_key: str) -> ProviderRefund:
        for existing in await self.list_refunds(request.payment_reference):
            if existing.refund_id == request.refund_id:
                return existing
        description = f"Refund {request.refund_id}"
        if request.reason:
            description += f" ({request.reason})"
        refund = await self._call(
            "POST",
            f"/v1/charges/{request.payment_reference}/refunds",
            body={
                "amount": money.to_provider_units(
                    request.amount, request.currency, transformers.units()
                ),
                "description": description[:255],
                "metadata": {**request.metadata, "refund_id": request.refund_id},
            },
        )
        return refund_from_pingxx(refund)

    async def retrieve_refund(self, reference: str, payment_reference: str) -> ProviderRefund:
        path = f"/v1/charges/{payment_reference}/refunds/{reference}"
        return refund_from_pingxx(await self._call("GET", path))

    async def list_refunds(self, payment_reference: str) -> Sequence[ProviderRefund]:
        refunds: list[ProviderRefund] = []
        params: dict[str, str] = {"limit": "100"}
        while True:
            page = await self._call(
                "GET", f"/v1/charges/{payment_reference}/refunds", params=params
            )
            data = [item for item in page.get("data", []) if isinstance(item, Mapping)]
            refunds.extend(refund_from_pingxx(item) for item in data)
            if not page.get("has_more") or not data:
                return refunds
            params["starting_after"] = str(data[-1].get("id"))

    # -- webhooks ------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> ProviderEvent:
        return parse_webhook(self._public_key, headers, raw_body)

    def parse_event(self, payload: Mapping[str, Any]) -> ProviderEvent:
        return event_from_dict(payload)

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- the wire ------------------------------------------------------------------------

    def _extra(self, request: CreatePayment) -> dict[str, str]:
        extra = dict(request.extra)
        if request.method == "wx_pub_qr":
            extra.setdefault("product_id", order_no(request.payment_id))
        if request.method in ("alipay_wap", "alipay_pc_direct") and request.return_url:
            extra.setdefault("success_url", request.return_url)
        if request.method == "wx_wap" and request.return_url:
            extra.setdefault("result_url", request.return_url)
        return extra

    def _charge_body(self, request: CreatePayment) -> dict[str, Any]:
        family = "wx" if request.method.startswith("wx") else "alipay"
        now = int(time.time())
        time_expire = now + MAX_OPEN_SECONDS[family]
        if request.expires_at is not None:
            time_expire = max(now + MIN_OPEN_SECONDS, min(time_expire, _unix(request.expires_at)))
        described = request.description or f"Order {request.order_id}"
        body: dict[str, Any] = {
            "order_no": order_no(request.payment_id),
            "app": {"id": self._app_id},
            "channel": request.method,
            "amount": money.to_provider_units(
                request.amount, request.currency, transformers.units()
            ),
            "currency": "cny",
            "client_ip": request.client_ip,
            "subject": described[:_SUBJECT_CHARS],
            "body": described[:_BODY_CHARS],
            "time_expire": time_expire,
            "extra": self._extra(request),
            "metadata": {
                **request.metadata,
                "payment_id": request.payment_id,
                "order_id": request.order_id[:255],
            },
        }
        if request.description:
            body["description"] = request.description[:_DESCRIPTION_CHARS]
        return body

    async def _recover(
        self, body: Mapping[str, Any], created_at: datetime | None
    ) -> Mapping[str, Any]:
        since = (_unix(created_at) if created_at else int(time.time())) - _RECOVERY_WINDOW_SECONDS
        params = {"app[id]": self._app_id, "limit": "100", "created[gte]": str(since)}
        for _ in range(_RECOVERY_PAGES):
            page = await self._call("GET", "/v1/charges", params=params)
            data = [item for item in page.get("data", []) if isinstance(item, Mapping)]
            for charge in data:
                if charge.get("order_no") == body["order_no"]:
                    if (charge.get("amount"), charge.get("channel")) != (
                        body["amount"],
                        body["channel"],
                    ):
                        break
                    return charge
            if not page.get("has_more") or not data:
                break
            params["starting_after"] = str(data[-1].get("id"))
        raise ProviderUnavailable(
            f"Ping++ holds order_no {body['order_no']} but its charge was not found",
            provider=PROVIDER,
            code="charge_order_no_used",
        )

    async def _close_quietly(self, reference: str, channel: str) -> None:
        if not CHANNELS[channel][1]:
            return
        # Nobody holds its credential: left open if it will not close, it lapses at time_expire.
        with contextlib.suppress(ProviderError):
            await self._call("POST", f"/v1/charges/{reference}/reverse")

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        content = (
            json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
            if body is not None
            else b""
        )
        uri = f"{path}?{urlencode(params)}" if params else path
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if self._private_key is not None:
            timestamp = str(int(time.time()))
            headers[REQUEST_TIMESTAMP_HEADER] = timestamp
            headers[REQUEST_SIGNATURE_HEADER] = sign_request(
                self._private_key, content, uri, timestamp
            )
        try:
            response = await self._http.request(
                method, uri, content=content or None, headers=headers
            )
        except httpx.HTTPError as error:
            raise transformers.network_error(error) from error
        if response.status_code >= 300:
            raise transformers.error_from_response(response)
        try:
            answer = response.json()
        except ValueError:
            raise transformers.PingxxObjectUnreadable("Ping++ answered no JSON") from None
        if not isinstance(answer, dict):
            raise transformers.PingxxObjectUnreadable("Ping++ answered no JSON object")
        return answer


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())
