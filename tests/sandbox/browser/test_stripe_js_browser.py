"""The compiled reference integration, in Chromium under a strict CSP, against the Stripe.js
stand-in and the sandbox."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import stripe
from playwright.async_api import FrameLocator, Page, expect

from sandbox.runner import ServerThread
from sandbox.testing import StripeSandboxControl
from tests.sandbox.browser.conftest import screenshot

pytestmark = pytest.mark.timeout(90)

CARD_FRAME = 'iframe[title="Secure payment input frame"]'
CHALLENGE_FRAME = 'iframe[title="3D Secure authentication"]'


async def new_intent(client: stripe.StripeClient) -> stripe.PaymentIntent:
    # Automatic payment methods, the API's default: confirming needs a return_url.
    return await client.v1.payment_intents.create_async(
        {"amount": 2000, "currency": "usd", "metadata": {"order_id": "ord_browser"}}
    )


async def open_checkout(
    page: Page, shop: ServerThread, intent: stripe.PaymentIntent, redirect: str = "if_required"
) -> FrameLocator:
    query = urlencode({"client_secret": intent.client_secret, "redirect": redirect})
    await page.goto(f"{shop.url}/checkout?{query}")
    await expect(page.locator("body")).to_have_attribute("data-element-ready", "true")
    await expect(page.locator("#amount")).to_have_text("$20.00")
    return page.frame_locator(CARD_FRAME)


async def enter_card(card: FrameLocator, number: str) -> None:
    await card.locator("#number").fill(number)
    await card.locator("#expiry").fill("1234")
    await card.locator("#cvc").fill("123")


class TestPaymentElement:
    async def test_card_4242_succeeds(
        self,
        page: Page,
        shop: ServerThread,
        sandbox: StripeSandboxControl,
        client: stripe.StripeClient,
    ) -> None:
        intent = await new_intent(client)
        card = await open_checkout(page, shop, intent)
        # Typed key by key, as a customer does: the frame formats what it is given.
        await card.locator("#number").press_sequentially("4242424242424242")
        await expect(card.locator("#number")).to_have_value("4242 4242 4242 4242")
        await expect(page.locator("body")).to_have_attribute("data-element-focused", "true")
        await card.locator("#expiry").press_sequentially("1234")
        await expect(card.locator("#expiry")).to_have_value("12 / 34")
        await card.locator("#cvc").press_sequentially("123")
        await expect(page.locator("#element-state")).to_have_text("complete")
        await expect(page.locator("#element-state")).to_have_attribute("data-value-type", "card")
        await page.locator("#name").click()
        await expect(page.locator("body")).to_have_attribute("data-element-focused", "false")

        await page.locator("#submit").click()
        await expect(page.locator("#result")).to_have_attribute("data-status", "succeeded")
        # The integration unmounts the element once paid.
        await expect(page.locator(CARD_FRAME)).to_have_count(0)

        paid = await client.v1.payment_intents.retrieve_async(
            intent.id, {"expand": ["payment_method"]}
        )
        assert paid.status == "succeeded"
        assert isinstance(paid.payment_method, stripe.PaymentMethod)
        assert paid.payment_method.card is not None
        assert paid.payment_method.card.last4 == "4242"
        assert paid.payment_method.billing_details.name == "Ada Lovelace"

    async def test_an_incomplete_card_is_refused_before_any_request(
        self,
        page: Page,
        shop: ServerThread,
        sandbox: StripeSandboxControl,
        client: stripe.StripeClient,
    ) -> None:
        intent = await new_intent(client)
        card = await open_checkout(page, shop, intent)
        await card.locator("#number").fill("4242 4242")
        await expect(page.locator("#element-state")).to_have_text("incomplete")
        await page.locator("#submit").click()

        message = page.locator("#message")
        await expect(message).to_have_text("Your card number is incomplete.")
        await expect(message).to_have_attribute("data-type", "validation_error")
        await expect(message).to_have_attribute("data-code", "incomplete_number")
        await expect(card.locator("#number-error")).to_have_text("Your card number is incomplete.")
        await expect(card.locator("#number")).to_have_attribute("aria-invalid", "true")
        calls = sandbox.stats()["api_calls"]
        assert calls.get("POST /v1/payment_methods", 0) == 0

    async def test_a_declined_card_shows_the_decline_and_a_retry_succeeds(
        self,
        page: Page,
        shop: ServerThread,
        sandbox: StripeSandboxControl,
        client: stripe.StripeClient,
        request: pytest.FixtureRequest,
    ) -> None:
        intent = await new_intent(client)
        card = await open_checkout(page, shop, intent)
        await enter_card(card, "4000000000000002")
        await page.locator("#submit").click()

        message = page.locator("#message")
        await expect(message).to_have_text("Your card was declined.")
        await expect(message).to_have_attribute("data-type", "card_error")
        await expect(message).to_have_attribute("data-code", "card_declined")
        await expect(message).to_have_attribute("data-decline-code", "generic_decline")
        await expect(message).to_have_attribute(
            "data-payment-intent-status", "requires_payment_method"
        )
        await expect(page.locator("#submit")).to_be_enabled()
        await screenshot(page, request, "declined")

        await card.locator("#number").fill("4242424242424242")
        await page.locator("#submit").click()
        await expect(page.locator("#result")).to_have_attribute("data-status", "succeeded")
        charges = await client.v1.charges.list_async({"payment_intent": intent.id})
        assert sorted(c.status for c in charges.data) == ["failed", "succeeded"]

    @pytest.mark.parametrize(("button", "passed"), [("#complete", True), ("#fail", False)])
    async def test_three_d_secure_challenge(
        self,
        page: Page,
        shop: ServerThread,
        sandbox: StripeSandboxControl,
        client: stripe.StripeClient,
        request: pytest.FixtureRequest,
        button: str,
        passed: bool,
    ) -> None:
        intent = await new_intent(client)
        card = await open_checkout(page, shop, intent)
        await enter_card(card, "4000002500003155")
        await page.locator("#submit").click()

        dialog = page.get_by_role("dialog", name="3D Secure authentication")
        await expect(dialog).to_be_visible()
        challenge = page.frame_locator(CHALLENGE_FRAME)
        await expect(challenge.locator("#amount")).to_have_text("$20.00")
        await expect(challenge.locator("#complete")).to_be_focused()
        await screenshot(page, request, "challenge")
        await challenge.locator(button).click()
        await expect(dialog).to_have_count(0)

        if passed:
            await expect(page.locator("#result")).to_have_attribute("data-status", "succeeded")
        else:
            message = page.locator("#message")
            await expect(message).to_have_attribute(
                "data-code", "payment_intent_authentication_failure"
            )
            await expect(message).to_have_attribute(
                "data-payment-intent-status", "requires_payment_method"
            )
        settled = await client.v1.payment_intents.retrieve_async(intent.id)
        assert settled.status == ("succeeded" if passed else "requires_payment_method")

    async def test_redirect_always_lands_on_return_url_with_stripes_query(
        self,
        page: Page,
        shop: ServerThread,
        sandbox: StripeSandboxControl,
        client: stripe.StripeClient,
    ) -> None:
        intent = await new_intent(client)
        card = await open_checkout(page, shop, intent, redirect="always")
        await enter_card(card, "4242424242424242")
        await page.locator("#submit").click()
        await page.wait_for_url(f"{shop.url}/return?**")

        query = parse_qs(urlsplit(page.url).query)
        assert query == {
            "payment_intent": [intent.id],
            "payment_intent_client_secret": [intent.client_secret],
            "redirect_status": ["succeeded"],
        }
        await expect(page.locator("#redirect-status")).to_have_text("succeeded")
        # The return page reads the outcome with stripe.retrievePaymentIntent.
        await expect(page.locator("#result")).to_have_attribute("data-status", "succeeded")

    async def test_handle_next_action_after_a_server_side_confirmation(
        self,
        page: Page,
        shop: ServerThread,
        sandbox: StripeSandboxControl,
        client: stripe.StripeClient,
    ) -> None:
        intent = await client.v1.payment_intents.create_async(
            {
                "amount": 2000,
                "currency": "usd",
                "payment_method": "pm_card_threeDSecureRequired",
                "confirm": True,
                "return_url": f"{shop.url}/return",
            }
        )
        assert intent.status == "requires_action"
        query = urlencode({"client_secret": intent.client_secret})
        await page.goto(f"{shop.url}/next-action?{query}")
        challenge = page.frame_locator(CHALLENGE_FRAME)
        await challenge.locator("#complete").click()
        await expect(page.locator("#result")).to_have_attribute("data-status", "succeeded")

    async def test_the_element_fits_a_phone(
        self,
        phone_page: Page,
        shop: ServerThread,
        sandbox: StripeSandboxControl,
        client: stripe.StripeClient,
    ) -> None:
        intent = await new_intent(client)
        card = await open_checkout(phone_page, shop, intent)
        await enter_card(card, "4242424242424242")
        await expect(phone_page.locator("#element-state")).to_have_text("complete")
        frame_box = await phone_page.locator(CARD_FRAME).bounding_box()
        cvc_box = await card.locator("#cvc").bounding_box()
        assert frame_box is not None
        assert cvc_box is not None
        # Every field is inside the frame, and the frame inside the phone's width.
        assert frame_box["x"] >= 0
        assert frame_box["x"] + frame_box["width"] <= 375
        assert cvc_box["x"] + cvc_box["width"] <= frame_box["x"] + frame_box["width"]
        assert cvc_box["y"] + cvc_box["height"] <= frame_box["y"] + frame_box["height"]
