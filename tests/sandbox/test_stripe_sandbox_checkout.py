"""Checkout Sessions through the official SDK, and the hosted page through plain HTTP."""

from __future__ import annotations

import html
import re
import time
import typing
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import stripe

from sandbox.runner import ServerThread
from sandbox.stripe import StripeSandboxConfig, checkout, create_app
from sandbox.stripe.forms import parse_form
from sandbox.stripe.state import RequestContext
from sandbox.testing import StripeSandboxControl, WebhookReceiver
from tests.sandbox.test_stripe_sandbox_fixture_shapes import FIXTURES, shape_mismatches

SUCCESS_URL = "https://shop.example/success?session_id={CHECKOUT_SESSION_ID}"
CANCEL_URL = "https://shop.example/cancel"
CARD = {"number": "4242 4242 4242 4242", "expiry": "12 / 34", "cvc": "123", "name": "Ada"}


def session_params(**extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 1000,
                    "product_data": {"name": "T-shirt"},
                },
                "quantity": 2,
            },
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 550,
                    "product_data": {"name": "Socks"},
                },
                "quantity": 1,
            },
        ],
        "success_url": SUCCESS_URL,
        "cancel_url": CANCEL_URL,
    }
    params.update(extra)
    return params


async def create_session(client: stripe.StripeClient, **extra: Any) -> stripe.checkout.Session:
    return await client.v1.checkout.sessions.create_async(session_params(**extra))  # type: ignore[arg-type]


async def raw_post(
    sandbox: StripeSandboxControl, path: str, data: dict[str, str], **headers: str
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        return await http.post(
            path, data=data, headers={"Authorization": f"Bearer {sandbox.secret_key}", **headers}
        )


async def pay(url: str, **form: str) -> httpx.Response:
    """Submit the hosted page's form as a browser would, without following the redirect."""
    async with httpx.AsyncClient() as http:
        return await http.post(url, data={**CARD, "method": "card", **form})


async def event_types(client: stripe.StripeClient, prefix: str = "") -> list[str]:
    listed = await client.v1.events.list_async({"limit": 100})
    return [e.type for e in reversed(listed.data) if e.type.startswith(prefix)]


def success_for(session_id: str) -> str:
    return SUCCESS_URL.replace("{CHECKOUT_SESSION_ID}", session_id)


class TestCreate:
    async def test_a_session_is_open_and_unpaid_until_the_customer_pays(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        before = int(time.time())
        session = await create_session(
            client,
            customer_email="ada@example.com",
            client_reference_id="cart_42",
            metadata={"order_id": "ord_1"},
            locale="fr",
            payment_method_types=["card"],
        )
        assert session.id.startswith("cs_test_a1")
        assert session.object == "checkout.session"
        assert (session.status, session.payment_status, session.mode) == (
            "open",
            "unpaid",
            "payment",
        )
        assert (session.amount_subtotal, session.amount_total, session.currency) == (
            2550,
            2550,
            "usd",
        )
        # Since API version 2022-08-01 the PaymentIntent exists only once the customer pays.
        assert session.payment_intent is None
        assert session.url == f"{sandbox.url}/c/pay/{session.id}"
        assert (session.customer_email, session.client_reference_id) == (
            "ada@example.com",
            "cart_42",
        )
        assert session.metadata is not None
        assert session.metadata["order_id"] == "ord_1"
        assert session.locale == "fr"
        assert session.payment_method_types == ["card"]
        assert session.success_url == SUCCESS_URL
        assert session.cancel_url == CANCEL_URL
        assert session.ui_mode == "hosted_page"
        assert before + 24 * 3600 <= session.expires_at <= int(time.time()) + 24 * 3600
        # Stripe sends no event for a new session.
        assert await event_types(client) == []

    async def test_public_url_is_the_base_of_the_session_url(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        sandbox.configure(public_url="https://stripe-sandbox.example")
        session = await create_session(client)
        assert session.url == f"https://stripe-sandbox.example/c/pay/{session.id}"

    async def test_line_items_list_in_the_order_given_and_paginate(
        self, client: stripe.StripeClient
    ) -> None:
        session = await create_session(client)
        items = await client.v1.checkout.sessions.line_items.list_async(session.id)
        assert [(i.description, i.quantity, i.amount_total) for i in items.data] == [
            ("T-shirt", 2, 2000),
            ("Socks", 1, 550),
        ]
        first = items.data[0]
        assert first.object == "item"
        assert first.price is not None
        assert (first.price.unit_amount, first.price.type, first.price.currency) == (
            1000,
            "one_time",
            "usd",
        )
        page = await client.v1.checkout.sessions.line_items.list_async(session.id, {"limit": 1})
        assert [i.description for i in page.data] == ["T-shirt"]
        assert page.has_more
        rest = await client.v1.checkout.sessions.line_items.list_async(
            session.id, {"limit": 1, "starting_after": page.data[0].id}
        )
        assert [i.description for i in rest.data] == ["Socks"]
        expanded = await client.v1.checkout.sessions.retrieve_async(
            session.id, {"expand": ["line_items"]}
        )
        assert expanded.line_items is not None
        assert [i.id for i in expanded.line_items.data] == [i.id for i in items.data]
        plain = await client.v1.checkout.sessions.retrieve_async(session.id)
        assert "line_items" not in plain

    async def test_an_idempotent_retry_returns_the_same_session(
        self, sandbox: StripeSandboxControl
    ) -> None:
        data = {
            "mode": "payment",
            "success_url": "https://shop.example/ok",
            "line_items[0][price_data][currency]": "eur",
            "line_items[0][price_data][unit_amount]": "900",
            "line_items[0][price_data][product_data][name]": "Mug",
            "line_items[0][quantity]": "1",
        }
        first = await raw_post(sandbox, "/v1/checkout/sessions", data, **{"Idempotency-Key": "k1"})
        again = await raw_post(sandbox, "/v1/checkout/sessions", data, **{"Idempotency-Key": "k1"})
        assert first.status_code == again.status_code == 200
        assert again.json()["id"] == first.json()["id"]
        assert again.headers["Idempotent-Replayed"] == "true"
        changed = await raw_post(
            sandbox,
            "/v1/checkout/sessions",
            {**data, "line_items[0][quantity]": "2"},
            **{"Idempotency-Key": "k1"},
        )
        assert changed.status_code == 400
        assert changed.json()["error"]["type"] == "idempotency_error"


class TestCreateRefusals:
    @pytest.mark.parametrize(
        ("offset", "message"),
        [
            (60, "at least 30 minutes"),
            (25 * 3600, "less than 24 hours"),
        ],
    )
    async def test_expires_at_outside_30_minutes_to_24_hours(
        self, client: stripe.StripeClient, offset: int, message: str
    ) -> None:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            await create_session(client, expires_at=int(time.time()) + offset)
        assert refused.value.param == "expires_at"
        assert message in str(refused.value.user_message)

    async def test_expires_at_within_the_window_is_kept(self, client: stripe.StripeClient) -> None:
        expires_at = int(time.time()) + 31 * 60
        session = await create_session(client, expires_at=expires_at)
        assert session.expires_at == expires_at

    @pytest.mark.parametrize(
        ("change", "param", "text"),
        [
            ({"line_items": None}, "line_items", "Missing required param: line_items."),
            ({"mode": None}, "mode", "Missing required param: mode."),
            ({"mode": "subscription"}, "mode", "`payment` mode only"),
            ({"success_url": "not a url"}, "success_url", "Not a valid URL"),
            ({"success_url": None}, "success_url", "Missing required param: success_url."),
            ({"customer_email": "nobody"}, "customer_email", "Invalid email address: nobody"),
            ({"locale": "xx"}, "locale", "Invalid locale"),
            ({"payment_method_types": ["cheque"]}, "payment_method_types[0]", "is invalid"),
            ({"shipping_rates": ["shr_1"]}, "shipping_rates", "Received unknown parameter"),
        ],
    )
    async def test_parameters_stripe_refuses(
        self, client: stripe.StripeClient, change: dict[str, Any], param: str, text: str
    ) -> None:
        params = session_params(**change)
        params = {k: v for k, v in params.items() if v is not None}
        with pytest.raises(stripe.InvalidRequestError) as refused:
            await client.v1.checkout.sessions.create_async(params)  # type: ignore[arg-type]
        assert refused.value.param == param
        assert text in str(refused.value.user_message)

    @pytest.mark.parametrize(
        ("item", "param", "text"),
        [
            ({"quantity": 1}, "line_items[0]", "either price or price_data"),
            (
                {"price": "price_123", "quantity": 1},
                "line_items[0][price]",
                "No such price: 'price_123'",
            ),
            (
                {"price_data": {"unit_amount": 100, "product_data": {"name": "x"}}, "quantity": 1},
                "line_items[0][price_data][currency]",
                "Missing required param",
            ),
            (
                {"price_data": {"currency": "usd", "unit_amount": 100}, "quantity": 1},
                "line_items[0][price_data][product_data]",
                "Missing required param",
            ),
            (
                {"price_data": {"currency": "usd", "product_data": {"name": "x"}}, "quantity": 1},
                "line_items[0][price_data][unit_amount]",
                "Missing required param",
            ),
            (
                {
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 100,
                        "product_data": {"name": "x"},
                    }
                },
                "line_items[0][quantity]",
                "Quantity is required",
            ),
            (
                {
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 100,
                        "product_data": {"name": "x"},
                        "recurring": {"interval": "month"},
                    },
                    "quantity": 1,
                },
                "line_items[0][price_data][recurring]",
                "recurring price",
            ),
            (
                {
                    "price_data": {
                        "currency": "zzz",
                        "unit_amount": 100,
                        "product_data": {"name": "x"},
                    },
                    "quantity": 1,
                },
                "line_items[0][price_data][currency]",
                "Invalid currency: zzz",
            ),
        ],
    )
    async def test_line_items_stripe_refuses(
        self, client: stripe.StripeClient, item: dict[str, Any], param: str, text: str
    ) -> None:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            await create_session(client, line_items=[item])
        assert refused.value.param == param
        assert text in str(refused.value.user_message)

    async def test_line_items_share_one_currency(self, client: stripe.StripeClient) -> None:
        items = session_params()["line_items"]
        items[1]["price_data"]["currency"] = "eur"
        with pytest.raises(stripe.InvalidRequestError) as refused:
            await create_session(client, line_items=items)
        assert "same currency" in str(refused.value.user_message)

    async def test_a_total_below_the_currencys_minimum(self, client: stripe.StripeClient) -> None:
        item = {
            "price_data": {"currency": "usd", "unit_amount": 10, "product_data": {"name": "x"}},
            "quantity": 1,
        }
        with pytest.raises(stripe.InvalidRequestError) as refused:
            await create_session(client, line_items=[item])
        assert refused.value.code == "amount_too_small"
        assert refused.value.param == "line_items"

    async def test_a_publishable_key_cannot_create_sessions(
        self, sandbox: StripeSandboxControl
    ) -> None:
        async with httpx.AsyncClient(base_url=sandbox.url) as http:
            response = await http.post(
                "/v1/checkout/sessions",
                data={"mode": "payment"},
                headers={"Authorization": f"Bearer {sandbox.publishable_key}"},
            )
        assert response.status_code == 401


class TestHostedPage:
    async def test_the_page_shows_items_total_and_a_labelled_form_under_a_strict_csp(
        self, client: stripe.StripeClient
    ) -> None:
        session = await create_session(client, customer_email="ada@example.com")
        assert session.url is not None
        async with httpx.AsyncClient() as http:
            page = await http.get(session.url)
            css = await http.get(session.url.split("/c/pay/")[0] + "/c/assets/checkout.css")
        assert page.status_code == 200
        csp = page.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp
        assert "unsafe-inline" not in csp
        text = page.text
        # No inline script or style anywhere: the page must work under that policy.
        assert "<script" not in text
        assert "<style" not in text
        assert " style=" not in text
        assert re.search(r"\son[a-z]+=", text) is None
        for shown in ("T-shirt", "Qty 2", "$20.00", "$10.00 each", "Socks", "$5.50", "$25.50"):
            assert shown in text
        for field in ("email", "number", "expiry", "cvc", "name"):
            assert f'<label for="{field}">' in text
        assert 'value="ada@example.com"' in text
        assert f'href="{CANCEL_URL}"' in text
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")

    async def test_a_good_card_completes_the_session_and_redirects_to_success_url(
        self, client: stripe.StripeClient, registered_receiver: WebhookReceiver
    ) -> None:
        session = await create_session(
            client,
            customer_email="ada@example.com",
            payment_intent_data={"metadata": {"order_id": "ord_7"}, "description": "Order 7"},
        )
        assert session.url is not None
        response = await pay(session.url)
        assert response.status_code == 303
        assert response.headers["location"] == success_for(session.id)

        paid = await client.v1.checkout.sessions.retrieve_async(
            session.id, {"expand": ["payment_intent"]}
        )
        assert (paid.status, paid.payment_status, paid.url) == ("complete", "paid", None)
        assert paid.customer_details is not None
        assert (paid.customer_details.email, paid.customer_details.name) == (
            "ada@example.com",
            "Ada",
        )
        intent = paid.payment_intent
        assert isinstance(intent, stripe.PaymentIntent)
        assert (intent.status, intent.amount, intent.currency) == ("succeeded", 2550, "usd")
        assert intent.metadata["order_id"] == "ord_7"
        assert intent.description == "Order 7"
        assert intent.payment_method_types == ["card"]

        expected = [
            "payment_intent.created",
            "charge.succeeded",
            "payment_intent.succeeded",
            "checkout.session.completed",
        ]
        assert await event_types(client) == expected
        received = await registered_receiver.wait_for(4)
        completed = next(e for e in received if e["type"] == "checkout.session.completed")
        assert completed["data"]["object"]["id"] == session.id
        assert completed["data"]["object"]["payment_intent"] == intent.id

        # A second submit of the same form charges nothing more.
        again = await pay(session.url)
        assert (again.status_code, again.headers["location"]) == (303, success_for(session.id))
        charges = await client.v1.charges.list_async({"payment_intent": intent.id})
        assert len(charges.data) == 1

    async def test_a_declined_card_is_shown_and_the_customer_can_retry(
        self, client: stripe.StripeClient
    ) -> None:
        session = await create_session(client)
        assert session.url is not None
        declined = await pay(session.url, number="4000000000000002", email="ada@example.com")
        assert declined.status_code == 200
        assert "Your card was declined." in declined.text
        assert 'role="alert"' in declined.text
        # What the customer typed comes back, except the card number and CVC.
        assert 'value="ada@example.com"' in declined.text
        assert "4000000000000002" not in declined.text
        after_decline = await client.v1.checkout.sessions.retrieve_async(session.id)
        assert after_decline.status == "open"
        assert after_decline.payment_intent is not None

        paid = await pay(session.url, email="ada@example.com")
        assert paid.status_code == 303
        done = await client.v1.checkout.sessions.retrieve_async(session.id)
        assert done.payment_status == "paid"
        # One PaymentIntent for the session, tried twice.
        assert done.payment_intent == after_decline.payment_intent

    @pytest.mark.parametrize(
        ("form", "message"),
        [
            ({"number": ""}, "Your card number is incomplete."),
            ({"expiry": "13"}, "Your card's expiration date is incomplete."),
            ({"number": "1234123412341234"}, "Your card number is incorrect."),
            ({"expiry": "01 / 20"}, "Your card's expiration year is invalid."),
            ({"email": "nobody"}, "Your email address is incomplete."),
        ],
    )
    async def test_form_errors_are_shown_next_to_the_field(
        self, client: stripe.StripeClient, form: dict[str, str], message: str
    ) -> None:
        session = await create_session(client)
        assert session.url is not None
        response = await pay(session.url, **{"email": "ada@example.com", **form})
        assert response.status_code == 200
        assert html.escape(message) in response.text
        assert 'aria-invalid="true"' in response.text
        still = await client.v1.checkout.sessions.retrieve_async(session.id)
        assert still.status == "open"

    async def test_three_d_secure_goes_to_the_bank_and_back_to_success_url(
        self, client: stripe.StripeClient
    ) -> None:
        session = await create_session(client)
        assert session.url is not None
        challenge = await pay(session.url, number="4000002500003155", email="a@b.co")
        assert challenge.status_code == 303
        bank = challenge.headers["location"]
        assert "/_sandbox/3ds/pi_" in bank
        async with httpx.AsyncClient() as http:
            answered = await http.post(bank, data={"outcome": "pass"})
            assert answered.status_code == 303
            back = answered.headers["location"]
            assert back.startswith(f"{session.url}/return?")
            assert parse_qs(urlsplit(back).query)["redirect_status"] == ["succeeded"]
            landed = await http.get(back)
        assert (landed.status_code, landed.headers["location"]) == (303, success_for(session.id))
        done = await client.v1.checkout.sessions.retrieve_async(session.id)
        assert done.payment_status == "paid"

    async def test_a_failed_challenge_shows_the_page_again(
        self, client: stripe.StripeClient
    ) -> None:
        session = await create_session(client)
        assert session.url is not None
        challenge = await pay(session.url, number="4000002500003155", email="a@b.co")
        async with httpx.AsyncClient() as http:
            answered = await http.post(challenge.headers["location"], data={"outcome": "fail"})
            page = await http.get(answered.headers["location"])
        assert page.status_code == 200
        assert "unable to authenticate your payment method" in page.text
        still = await client.v1.checkout.sessions.retrieve_async(session.id)
        assert still.status == "open"

    async def test_the_challenge_answered_through_the_control_completes_the_session(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        session = await create_session(client)
        assert session.url is not None
        await pay(session.url, number="4000002500003155", email="a@b.co")
        pending = await client.v1.checkout.sessions.retrieve_async(session.id)
        assert isinstance(pending.payment_intent, str)
        sandbox.three_d_secure(pending.payment_intent, "pass")
        done = await client.v1.checkout.sessions.retrieve_async(session.id)
        assert (done.status, done.payment_status) == ("complete", "paid")

    async def test_an_unknown_session_is_a_404_page(self, sandbox: StripeSandboxControl) -> None:
        async with httpx.AsyncClient() as http:
            page = await http.get(f"{sandbox.url}/c/pay/cs_test_nope")
        assert page.status_code == 404


class TestAsyncPayments:
    async def test_bank_debit_completes_unpaid_and_the_control_settles_it(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        session = await create_session(client, customer_email="ada@example.com")
        assert session.url is not None
        response = await pay(session.url, method="bank_debit", number="", cvc="")
        assert (response.status_code, response.headers["location"]) == (
            303,
            success_for(session.id),
        )
        pending = await client.v1.checkout.sessions.retrieve_async(
            session.id, {"expand": ["payment_intent"]}
        )
        assert (pending.status, pending.payment_status) == ("complete", "unpaid")
        assert isinstance(pending.payment_intent, stripe.PaymentIntent)
        assert pending.payment_intent.status == "processing"

        settled = sandbox.request(
            "POST", f"/_sandbox/checkout/sessions/{session.id}/async_payment_succeed"
        )
        assert settled.status_code == 200, settled.text
        assert settled.json()["payment_status"] == "paid"
        assert await event_types(client, "checkout.") == [
            "checkout.session.completed",
            "checkout.session.async_payment_succeeded",
        ]

    async def test_a_failed_bank_debit_is_announced(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        session = await create_session(client, customer_email="ada@example.com")
        assert session.url is not None
        await pay(session.url, method="bank_debit")
        failed = sandbox.request(
            "POST", f"/_sandbox/checkout/sessions/{session.id}/async_payment_fail"
        )
        assert failed.status_code == 200, failed.text
        after = await client.v1.checkout.sessions.retrieve_async(
            session.id, {"expand": ["payment_intent"]}
        )
        assert (after.status, after.payment_status) == ("complete", "unpaid")
        assert isinstance(after.payment_intent, stripe.PaymentIntent)
        assert after.payment_intent.status == "requires_payment_method"
        assert await event_types(client, "checkout.") == [
            "checkout.session.completed",
            "checkout.session.async_payment_failed",
        ]

    async def test_the_controls_refuse_a_session_without_a_pending_payment(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        session = await create_session(client)
        response = sandbox.request(
            "POST", f"/_sandbox/checkout/sessions/{session.id}/async_payment_succeed"
        )
        assert response.status_code == 400
        assert "only a complete, unpaid session" in response.json()["error"]["message"]

    async def test_bank_debit_is_offered_only_for_delayed_methods(
        self, client: stripe.StripeClient
    ) -> None:
        card_only = await create_session(client, payment_method_types=["card"])
        with_debit = await create_session(client, payment_method_types=["card", "us_bank_account"])
        assert card_only.url is not None
        assert with_debit.url is not None
        async with httpx.AsyncClient() as http:
            assert "bank-debit" not in (await http.get(card_only.url)).text
            assert "bank-debit" in (await http.get(with_debit.url)).text
        refused = await pay(card_only.url, method="bank_debit", number="", email="a@b.co")
        assert "Your card number is incomplete." in refused.text


class TestExpire:
    async def test_expiring_an_open_session_cancels_its_payment_intent(
        self, client: stripe.StripeClient
    ) -> None:
        session = await create_session(client)
        assert session.url is not None
        await pay(session.url, number="4000000000000002", email="a@b.co")
        expired = await client.v1.checkout.sessions.expire_async(
            session.id, {"expand": ["payment_intent"]}
        )
        assert (expired.status, expired.url) == ("expired", None)
        assert isinstance(expired.payment_intent, stripe.PaymentIntent)
        assert expired.payment_intent.status == "canceled"
        assert expired.payment_intent.cancellation_reason == "automatic"
        types = await event_types(client)
        assert types[-2:] == ["payment_intent.canceled", "checkout.session.expired"]
        async with httpx.AsyncClient() as http:
            page = await http.get(session.url)
        assert "This checkout session has expired" in page.text

    @pytest.mark.parametrize("state", ["expired", "complete"])
    async def test_only_an_open_session_can_be_expired(
        self, client: stripe.StripeClient, state: str
    ) -> None:
        session = await create_session(client)
        assert session.url is not None
        if state == "expired":
            await client.v1.checkout.sessions.expire_async(session.id)
        else:
            await pay(session.url, email="a@b.co")
        with pytest.raises(stripe.InvalidRequestError) as refused:
            await client.v1.checkout.sessions.expire_async(session.id)
        assert str(refused.value.user_message) == (
            'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout '
            f"Session has a status of `{state}`."
        )

    async def test_expire_now_control_and_paying_afterwards(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        session = await create_session(client)
        assert session.url is not None
        response = sandbox.request("POST", f"/_sandbox/checkout/sessions/{session.id}/expire_now")
        assert (response.status_code, response.json()["status"]) == (200, "expired")
        attempt = await pay(session.url, email="a@b.co")
        assert attempt.status_code == 200
        assert "This checkout session has expired" in attempt.text
        assert await event_types(client) == ["checkout.session.expired"]

    def test_sessions_past_expires_at_expire_and_are_announced(self) -> None:
        # The timer and the read-time check both come down to this; nobody waits 30 minutes.
        sb = create_app(StripeSandboxConfig(seed=7)).state.sandbox
        body = (
            b"mode=payment&success_url=https%3A%2F%2Fshop.example%2Fok"
            b"&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=500"
            b"&line_items[0][price_data][product_data][name]=Tea&line_items[0][quantity]=1"
        )
        ctx = RequestContext(
            params=parse_form(body),
            path_params={},
            api_key="sk_test_sandbox",
            key_kind="secret",
            request_id="req_test",
            idempotency_key=None,
            base_url="http://sandbox.test/",
        )
        made = checkout.create(sb, ctx)
        assert checkout.expire_due(sb, now=made["expires_at"] - 1) == []
        assert checkout.expire_due(sb, now=made["expires_at"]) == [made["id"]]
        assert sb.stores.checkout_sessions[made["id"]]["status"] == "expired"
        assert [e["type"] for e in sb.stores.events.values()] == ["checkout.session.expired"]


class TestList:
    async def test_filters_by_status_payment_intent_and_customer_email(
        self, client: stripe.StripeClient
    ) -> None:
        paid = await create_session(client, customer_email="ada@example.com")
        open_one = await create_session(client)
        assert paid.url is not None
        await pay(paid.url)
        paid_now = await client.v1.checkout.sessions.retrieve_async(paid.id)
        assert isinstance(paid_now.payment_intent, str)

        everything = await client.v1.checkout.sessions.list_async()
        assert [s.id for s in everything.data] == [open_one.id, paid.id]
        complete = await client.v1.checkout.sessions.list_async({"status": "complete"})
        assert [s.id for s in complete.data] == [paid.id]
        by_intent = await client.v1.checkout.sessions.list_async(
            {"payment_intent": paid_now.payment_intent}
        )
        assert [s.id for s in by_intent.data] == [paid.id]
        by_email = await client.v1.checkout.sessions.list_async(
            {"customer_details": {"email": "ada@example.com"}}
        )
        assert [s.id for s in by_email.data] == [paid.id]


class TestRefunds:
    async def test_a_paid_session_is_refunded_through_its_payment_intent(
        self, client: stripe.StripeClient
    ) -> None:
        session = await create_session(client)
        assert session.url is not None
        await pay(session.url, email="a@b.co")
        paid = await client.v1.checkout.sessions.retrieve_async(session.id)
        assert isinstance(paid.payment_intent, str)
        refund = await client.v1.refunds.create_async(
            {"payment_intent": paid.payment_intent, "amount": 550}
        )
        assert (refund.status, refund.amount, refund.payment_intent) == (
            "succeeded",
            550,
            paid.payment_intent,
        )


class TestShape:
    async def test_a_session_has_every_fixture_field_with_its_type(
        self, client: stripe.StripeClient, sandbox: StripeSandboxControl
    ) -> None:
        session = await create_session(client)
        async with httpx.AsyncClient(base_url=sandbox.url) as http:
            raw = await http.get(
                f"/v1/checkout/sessions/{session.id}",
                headers={"Authorization": f"Bearer {sandbox.secret_key}"},
            )
        ours = raw.json()
        fixture = FIXTURES["checkout.session"]
        assert shape_mismatches("checkout.session", fixture, ours) == []

    async def test_every_field_is_one_the_sdk_declares(self, client: stripe.StripeClient) -> None:
        session = await create_session(client)
        hints = {
            name: hint
            for name, hint in stripe.checkout.Session.__annotations__.items()
            if not name.startswith("_") and name != "OBJECT_NAME"
        }
        assert set(session.to_dict()) - set(hints) == set()
        # And every field the SDK declares as always present is there.
        always = {name for name, hint in hints.items() if type(None) not in typing.get_args(hint)}
        assert always - set(session.to_dict()) == set()


class TestStateFile:
    def test_a_session_made_before_a_restart_is_paid_after_it(self, tmp_path: Path) -> None:
        config = StripeSandboxConfig(state_file=str(tmp_path / "stripe-state.json"), seed=3)
        with ServerThread(create_app(config)) as first:
            made = sync_client(first).v1.checkout.sessions.create(session_params())  # type: ignore[arg-type]

        with ServerThread(create_app(config)) as second:
            client = sync_client(second)
            # The restarted sandbox listens elsewhere; the session's page is the same path.
            paid = httpx.post(f"{second.url}/c/pay/{made.id}", data={**CARD, "email": "a@b.co"})
            assert paid.status_code == 303
            after = client.v1.checkout.sessions.retrieve(made.id)
            assert (after.status, after.payment_status) == ("complete", "paid")
            items = client.v1.checkout.sessions.line_items.list(made.id)
            assert [i.description for i in items.data] == ["T-shirt", "Socks"]


def sync_client(server: ServerThread) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_sandbox",
        base_addresses={"api": server.url},
        http_client=stripe.HTTPXClient(allow_sync_methods=True),
    )
