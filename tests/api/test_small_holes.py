"""Small holes that lost money or leaked a capability: client tokens, bodies cut short,
channels no adapter serves."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.settings import ConfigurationError, Settings
from app.providers.registry import ProviderRegistry
from tests.conftest import PINGXX_CHANNELS
from tests.support.api import order_id


async def create(api: httpx.AsyncClient, order: str, **extra: object) -> httpx.Response:
    return await api.post(
        "/v1/payments", json={"order_id": order, "amount": 1000, "currency": "USD", **extra}
    )


class TestClientTokens:
    async def test_a_non_ascii_token_is_refused_not_a_server_error(
        self, api: httpx.AsyncClient
    ) -> None:
        payment = (await create(api, order_id("token"))).json()
        response = await api.get(
            f"/v1/public/payments/{payment['id']}",
            headers=[(b"X-Client-Token", "ct_\u00fc\u00f1\u00ef".encode("latin-1"))],
        )
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "invalid_client_token"

    async def test_tokens_are_kept_only_as_digests(
        self, api: httpx.AsyncClient, db: AsyncEngine
    ) -> None:
        payment = (await create(api, order_id("token"))).json()
        async with db.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT row_to_json(p)::text FROM payments p WHERE id = :p"),
                    {"p": payment["id"]},
                )
            ).scalar_one()
        assert payment["client_token"] not in row

    async def test_asking_again_hands_out_a_new_token_and_the_old_one_still_works(
        self, api: httpx.AsyncClient
    ) -> None:
        order = order_id("token")
        first = (await create(api, order)).json()
        again = await create(api, order)
        assert again.status_code == 200, again.text
        second = again.json()
        assert second["id"] == first["id"]
        assert second["client_token"] != first["client_token"]
        for token in (first["client_token"], second["client_token"]):
            seen = await api.get(
                f"/v1/public/payments/{first['id']}", headers={"X-Client-Token": token}
            )
            assert seen.status_code == 200, seen.text


class TestBodiesCutShort:
    async def test_a_chunked_body_over_the_limit_runs_no_handler(
        self, api: httpx.AsyncClient, settings: object
    ) -> None:
        """A complete JSON create followed by more than the limit of spaces: the first
        megabyte alone is a valid request, and it must not be acted on."""
        order = order_id("chunked")
        head = f'{{"order_id": "{order}", "amount": 1000, "currency": "USD"}}'.encode()

        async def body() -> AsyncIterator[bytes]:
            yield head
            for _ in range(40):
                yield b" " * 65536

        response = await api.post(
            "/v1/payments", content=body(), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413, response.text
        assert response.json()["code"] == "request_too_large"
        listed = (await api.get("/v1/payments", params={"order_id": order})).json()
        assert listed["data"] == []


class TestChannelsNoAdapterServes:
    def test_enabling_one_refuses_to_start_naming_the_variable(self, settings: Settings) -> None:
        served = settings.model_copy(update={"enabled_channels": ["stripe", "stripe:klarna"]})
        with pytest.raises(ConfigurationError, match="PAYMENTS_ENABLED_CHANNELS"):
            ProviderRegistry.from_settings(served)

    async def test_asking_for_one_is_422_listing_the_enabled(
        self, api: httpx.AsyncClient, db: AsyncEngine
    ) -> None:
        response = await create(api, order_id("channel"), payment_channel="stripe:klarna")
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "unknown_payment_channel"
        assert response.json()["enabled_channels"] == sorted(
            ["stripe:payment_intent", *PINGXX_CHANNELS]
        )
        async with db.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM payments")) == 0
