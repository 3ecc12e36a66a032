"""PAYMENTS_RUN_WORKERS_IN_API: one process serves the API and delivers its events."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from sandbox.runner import ServerThread
from tests.conftest import API_KEY, make_settings
from tests.support.api import order_id
from tests.support.order_service import OrderService, new_notification_secret


class TestWorkersInsideTheApi:
    async def test_an_event_reaches_the_order_service(
        self,
        db: AsyncEngine,
        database_url: str,
        stripe_sandbox: ServerThread,
        webhook_secret: str,
    ) -> None:
        settings = make_settings(
            database_url,
            stripe_sandbox.url,
            webhook_secret,
            run_workers_in_api=True,
            notification_url="http://127.0.0.1:1/unused",
            notification_secret=new_notification_secret(),
        )
        with OrderService(settings.notification_secret.get_secret_value()) as order_service:  # type: ignore[union-attr]
            settings = settings.model_copy(update={"notification_url": order_service.url})
            app = create_app(settings)
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app),
                    base_url="http://api",
                    headers={"Authorization": f"Bearer {API_KEY}"},
                ) as api,
            ):
                created = await api.post(
                    "/v1/payments",
                    json={"order_id": order_id("inproc"), "amount": 900, "currency": "USD"},
                )
                assert created.status_code == 201
                events = (
                    await api.get("/v1/events", params={"payment_id": created.json()["id"]})
                ).json()
                event_id = events["data"][0]["id"]
                assert await order_service.wait_for({event_id}, seconds=10)
                # The attempt is recorded just after the order service answered.
                for _ in range(100):
                    delivered = (await api.get(f"/v1/events/{event_id}")).json()
                    if delivered["delivery_status"] == "delivered":
                        break
                    await asyncio.sleep(0.05)
                assert delivered["delivery_status"] == "delivered"
                assert [a["status_code"] for a in delivered["attempts"]] == [200]
