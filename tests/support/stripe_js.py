"""What Stripe.js does in a browser, against the sandbox: tokenize a card with the
publishable key, then confirm the PaymentIntent with its client secret."""

from __future__ import annotations

from typing import Any

import httpx


class StripeJs:
    def __init__(self, base_url: str, publishable_key: str) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {publishable_key}"}, timeout=10
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def create_card(self, number: str) -> str:
        response = await self.client.post(
            "/v1/payment_methods",
            data={
                "type": "card",
                "card[number]": number,
                "card[exp_month]": "12",
                "card[exp_year]": "2034",
                "card[cvc]": "123",
            },
        )
        response.raise_for_status()
        payment_method_id: str = response.json()["id"]
        return payment_method_id

    async def confirm(self, client_secret: str, card: str) -> httpx.Response:
        """`card`: a raw test number or a test PaymentMethod id (`pm_card_visa`)."""
        payment_method = card if card.startswith("pm_") else await self.create_card(card)
        intent_id = client_secret.split("_secret_")[0]
        return await self.client.post(
            f"/v1/payment_intents/{intent_id}/confirm",
            data={
                "client_secret": client_secret,
                "payment_method": payment_method,
                "return_url": "https://shop.example/return",
            },
        )

    async def complete_three_d_secure(self, intent_id: str, *, passed: bool) -> None:
        response = await self.client.post(
            f"/_sandbox/3ds/{intent_id}", json={"outcome": "pass" if passed else "fail"}
        )
        assert response.status_code < 400, response.text

    async def retrieve(self, client_secret: str) -> dict[str, Any]:
        intent_id = client_secret.split("_secret_")[0]
        response = await self.client.get(
            f"/v1/payment_intents/{intent_id}", params={"client_secret": client_secret}
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body
