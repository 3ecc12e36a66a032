"""The hosted Checkout page in Chromium, at a phone's width, as a customer uses it."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from playwright.async_api import Page, expect

from sandbox.runner import ServerThread
from sandbox.testing import StripeSandboxControl
from tests.sandbox.browser.conftest import screenshot

pytestmark = pytest.mark.timeout(90)


async def new_session(
    client: stripe.StripeClient, shop: ServerThread, **extra: Any
) -> stripe.checkout.Session:
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 1250,
                    "product_data": {"name": "Organic cotton T-shirt"},
                },
                "quantity": 2,
            },
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 500,
                    "product_data": {"name": "Gift wrapping"},
                },
                "quantity": 1,
            },
        ],
        "success_url": f"{shop.url}/success?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{shop.url}/cancel",
        "customer_email": "ada@example.com",
        "payment_intent_data": {"metadata": {"order_id": "ord_checkout_browser"}},
        **extra,
    }
    return await client.v1.checkout.sessions.create_async(params)  # type: ignore[arg-type]


async def enter_card(page: Page, number: str) -> None:
    await page.get_by_label("Card number").fill(number)
    await page.get_by_label("Expiration").fill("12 / 34")
    await page.get_by_label("CVC").fill("123")
    await page.get_by_label("Name on card").fill("Ada Lovelace")


async def expect_success_page(page: Page, shop: ServerThread, session_id: str) -> None:
    await page.wait_for_url(f"{shop.url}/success?session_id={session_id}")
    await expect(page.locator("#session-id")).to_have_text(session_id)


class TestHostedCheckout:
    async def test_a_good_card_pays_and_lands_on_success_url(
        self,
        phone_page: Page,
        shop: ServerThread,
        client: stripe.StripeClient,
        request: pytest.FixtureRequest,
    ) -> None:
        session = await new_session(client, shop)
        assert session.url is not None
        await phone_page.goto(session.url)
        await expect(phone_page.locator("#total-amount")).to_have_text("$30.00")
        await expect(phone_page.get_by_label("Email")).to_have_value("ada@example.com")
        await screenshot(phone_page, request, "form")
        await enter_card(phone_page, "4242 4242 4242 4242")
        await phone_page.get_by_role("button", name="Pay $30.00", exact=True).click()

        await expect_success_page(phone_page, shop, session.id)
        paid = await client.v1.checkout.sessions.retrieve_async(
            session.id, {"expand": ["payment_intent"]}
        )
        assert (paid.status, paid.payment_status) == ("complete", "paid")
        assert isinstance(paid.payment_intent, stripe.PaymentIntent)
        assert paid.payment_intent.status == "succeeded"
        assert paid.payment_intent.metadata["order_id"] == "ord_checkout_browser"

    async def test_a_declined_card_shows_the_decline_then_a_good_card_pays(
        self,
        phone_page: Page,
        shop: ServerThread,
        client: stripe.StripeClient,
        request: pytest.FixtureRequest,
    ) -> None:
        session = await new_session(client, shop)
        assert session.url is not None
        await phone_page.goto(session.url)
        await enter_card(phone_page, "4000 0000 0000 0002")
        await phone_page.get_by_role("button", name="Pay $30.00", exact=True).click()

        await expect(phone_page.get_by_role("alert")).to_have_text("Your card was declined.")
        await expect(phone_page.get_by_label("Card number")).to_be_focused()
        await expect(phone_page.get_by_label("Card number")).to_have_attribute(
            "aria-invalid", "true"
        )
        assert phone_page.url == session.url
        await screenshot(phone_page, request, "declined")

        await enter_card(phone_page, "4242 4242 4242 4242")
        await phone_page.get_by_role("button", name="Pay $30.00", exact=True).click()
        await expect_success_page(phone_page, shop, session.id)
        paid = await client.v1.checkout.sessions.retrieve_async(session.id)
        assert paid.payment_status == "paid"

    async def test_back_lands_on_cancel_url_and_leaves_the_session_open(
        self, phone_page: Page, shop: ServerThread, client: stripe.StripeClient
    ) -> None:
        session = await new_session(client, shop)
        assert session.url is not None
        await phone_page.goto(session.url)
        await phone_page.get_by_role("link", name="Back to Stripe sandbox").click()

        await phone_page.wait_for_url(f"{shop.url}/cancel")
        await expect(phone_page.locator("#landed")).to_have_text("Your order was not paid")
        still = await client.v1.checkout.sessions.retrieve_async(session.id)
        assert still.status == "open"

    async def test_bank_debit_completes_unpaid_then_the_control_settles_it(
        self,
        phone_page: Page,
        shop: ServerThread,
        sandbox: StripeSandboxControl,
        client: stripe.StripeClient,
    ) -> None:
        session = await new_session(client, shop)
        assert session.url is not None
        await phone_page.goto(session.url)
        await phone_page.get_by_role("button", name="Pay $30.00 by bank debit").click()

        await expect_success_page(phone_page, shop, session.id)
        pending = await client.v1.checkout.sessions.retrieve_async(session.id)
        assert (pending.status, pending.payment_status) == ("complete", "unpaid")

        settled = sandbox.request(
            "POST", f"/_sandbox/checkout/sessions/{session.id}/async_payment_succeed"
        )
        assert settled.status_code == 200, settled.text
        assert settled.json()["payment_status"] == "paid"
        events = await client.v1.events.list_async({"type": "checkout.session.*"})
        assert [e.type for e in reversed(events.data)] == [
            "checkout.session.completed",
            "checkout.session.async_payment_succeeded",
        ]
        # The customer who comes back to the page is told it is done, not asked to pay again.
        await phone_page.goto(session.url)
        await expect(phone_page.locator("#status-title")).to_have_text("Payment complete")

    async def test_three_d_secure_goes_through_the_bank_page_and_back(
        self, page: Page, shop: ServerThread, client: stripe.StripeClient
    ) -> None:
        session = await new_session(client, shop)
        assert session.url is not None
        await page.goto(session.url)
        await enter_card(page, "4000 0025 0000 3155")
        await page.get_by_role("button", name="Pay $30.00", exact=True).click()

        await page.wait_for_url("**/_sandbox/3ds/**")
        await page.get_by_role("button", name="Complete").click()
        await expect_success_page(page, shop, session.id)

    async def test_a_failed_challenge_returns_to_the_page_to_try_again(
        self, page: Page, shop: ServerThread, client: stripe.StripeClient
    ) -> None:
        session = await new_session(client, shop)
        assert session.url is not None
        await page.goto(session.url)
        await enter_card(page, "4000 0025 0000 3155")
        await page.get_by_role("button", name="Pay $30.00", exact=True).click()
        await page.wait_for_url("**/_sandbox/3ds/**")
        await page.get_by_role("button", name="Fail").click()

        await page.wait_for_url(f"{session.url}/return?**")
        await expect(page.get_by_role("alert")).to_contain_text("unable to authenticate")
        still = await client.v1.checkout.sessions.retrieve_async(session.id)
        assert still.status == "open"

    async def test_pays_with_the_keyboard_alone(
        self, page: Page, shop: ServerThread, client: stripe.StripeClient
    ) -> None:
        session = await new_session(client, shop)
        assert session.url is not None
        await page.goto(session.url)
        # Back link, then the (read-only) email, then the card fields in reading order.
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("link", name="Back to Stripe sandbox")).to_be_focused()
        await page.keyboard.press("Tab")
        await expect(page.get_by_label("Email")).to_be_focused()
        for label, text in (
            ("Card number", "4242424242424242"),
            ("Expiration", "12/34"),
            ("CVC", "123"),
            ("Name on card", "Ada Lovelace"),
        ):
            await page.keyboard.press("Tab")
            await expect(page.get_by_label(label)).to_be_focused()
            await page.keyboard.type(text)
        await page.keyboard.press("Enter")
        await expect_success_page(page, shop, session.id)

    async def test_an_expired_session_cannot_be_paid(
        self,
        page: Page,
        shop: ServerThread,
        sandbox: StripeSandboxControl,
        client: stripe.StripeClient,
        request: pytest.FixtureRequest,
    ) -> None:
        session = await new_session(client, shop)
        assert session.url is not None
        await page.goto(session.url)
        expired = sandbox.request("POST", f"/_sandbox/checkout/sessions/{session.id}/expire_now")
        assert expired.status_code == 200, expired.text
        await enter_card(page, "4242 4242 4242 4242")
        await page.get_by_role("button", name="Pay $30.00", exact=True).click()

        await expect(page.locator("#status-title")).to_have_text(
            "This checkout session has expired"
        )
        await screenshot(page, request, "expired")
        await page.get_by_role("link", name="Return to Stripe sandbox").click()
        await page.wait_for_url(f"{shop.url}/cancel")
