"""PaymentIntents and PaymentMethods through the official SDK, over real HTTP."""

from __future__ import annotations

import httpx
import pytest
import stripe

from sandbox.testing import StripeSandboxControl as Sandbox


async def event_types(client: stripe.StripeClient, object_id: str) -> list[str]:
    listed = await client.v1.events.list_async({"limit": 100})
    return [e.type for e in reversed(listed.data) if e.data.object.id == object_id]


class TestConfirmSucceeds:
    @pytest.mark.asyncio
    async def test_create_then_confirm_charges_the_card(self, client: stripe.StripeClient) -> None:
        pi = await client.v1.payment_intents.create_async(
            {
                "amount": 2000,
                "currency": "usd",
                "payment_method_types": ["card"],
                "metadata": {"order_id": "ord_1"},
                "description": "Order 1",
            }
        )
        assert pi.status == "requires_payment_method"
        assert pi.client_secret.startswith(f"{pi.id}_secret_")
        assert pi.metadata["order_id"] == "ord_1"

        confirmed = await client.v1.payment_intents.confirm_async(
            pi.id, {"payment_method": "pm_card_visa", "expand": ["latest_charge"]}
        )
        assert confirmed.status == "succeeded"
        assert confirmed.amount_received == 2000
        charge = confirmed.latest_charge
        assert isinstance(charge, stripe.Charge)
        assert charge.id.startswith("ch_")
        assert (charge.status, charge.paid, charge.captured) == ("succeeded", True, True)
        assert charge.payment_method_details.card.last4 == "4242"

        types = await event_types(client, pi.id)
        assert types == ["payment_intent.created", "payment_intent.succeeded"]
        assert await event_types(client, charge.id) == ["charge.succeeded"]

    @pytest.mark.asyncio
    async def test_confirm_on_create_with_mastercard(self, client: stripe.StripeClient) -> None:
        pi = await client.v1.payment_intents.create_async(
            {
                "amount": 500,
                "currency": "EUR",
                "payment_method": "pm_card_mastercard",
                "confirm": True,
                "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            }
        )
        assert (pi.status, pi.currency) == ("succeeded", "eur")
        assert pi.payment_method.startswith("pm_")
        assert pi.payment_method != "pm_card_mastercard"
        charge = await client.v1.charges.retrieve_async(pi.latest_charge)
        assert charge.payment_method_details.card.brand == "mastercard"
        listed = await client.v1.charges.list_async({"payment_intent": pi.id})
        assert [c.id for c in listed.data] == [charge.id]

    @pytest.mark.asyncio
    async def test_update_then_cancel(self, client: stripe.StripeClient) -> None:
        pi = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "gbp"})
        updated = await client.v1.payment_intents.update_async(
            pi.id, {"amount": 1500, "metadata": {"a": "1"}}
        )
        assert (updated.amount, updated.metadata.to_dict()) == (1500, {"a": "1"})
        canceled = await client.v1.payment_intents.cancel_async(
            pi.id, {"cancellation_reason": "abandoned"}
        )
        assert (canceled.status, canceled.cancellation_reason) == ("canceled", "abandoned")
        assert canceled.canceled_at is not None
        assert "payment_intent.canceled" in await event_types(client, pi.id)


class TestDeclines:
    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("payment_method", "code", "decline_code"),
        [
            ("pm_card_visa_chargeDeclined", "card_declined", "generic_decline"),
            ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
            ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
        ],
    )
    async def test_decline_answers_402_with_the_payment_intent(
        self, client: stripe.StripeClient, payment_method: str, code: str, decline_code: str
    ) -> None:
        pi = await client.v1.payment_intents.create_async(
            {"amount": 1099, "currency": "usd", "payment_method_types": ["card"]}
        )
        with pytest.raises(stripe.CardError) as caught:
            await client.v1.payment_intents.confirm_async(pi.id, {"payment_method": payment_method})
        error = caught.value
        assert error.http_status == 402
        assert error.code == code
        assert error.error.decline_code == decline_code
        failed_pi = error.error.payment_intent
        assert failed_pi.id == pi.id
        assert failed_pi.status == "requires_payment_method"
        assert failed_pi.last_payment_error.decline_code == decline_code
        charge = await client.v1.charges.retrieve_async(failed_pi.latest_charge)
        assert (charge.status, charge.failure_code) == ("failed", code)
        types = await event_types(client, pi.id)
        assert types == ["payment_intent.created", "payment_intent.payment_failed"]
        assert await event_types(client, charge.id) == ["charge.failed"]

    @pytest.mark.asyncio
    async def test_a_declined_payment_can_be_retried_with_another_card(
        self, client: stripe.StripeClient
    ) -> None:
        pi = await client.v1.payment_intents.create_async(
            {"amount": 1099, "currency": "usd", "payment_method_types": ["card"]}
        )
        with pytest.raises(stripe.CardError):
            await client.v1.payment_intents.confirm_async(
                pi.id, {"payment_method": "pm_card_visa_chargeDeclined"}
            )
        retried = await client.v1.payment_intents.confirm_async(
            pi.id, {"payment_method": "pm_card_visa"}
        )
        assert retried.status == "succeeded"
        assert retried.last_payment_error is None


class TestThreeDSecure:
    @pytest.mark.asyncio
    async def test_challenge_passed_in_the_browser_page(
        self, client: stripe.StripeClient, sandbox: Sandbox
    ) -> None:
        pi = await client.v1.payment_intents.create_async(
            {
                "amount": 3000,
                "currency": "usd",
                "payment_method": "pm_card_threeDSecure2Required",
                "confirm": True,
                "return_url": "https://shop.example/return?order=7",
            }
        )
        assert pi.status == "requires_action"
        assert pi.next_action.type == "redirect_to_url"
        challenge_url = pi.next_action.redirect_to_url.url
        assert challenge_url == f"{sandbox.url}/_sandbox/3ds/{pi.id}"
        assert "payment_intent.requires_action" in await event_types(client, pi.id)

        async with httpx.AsyncClient() as browser:
            page = await browser.get(challenge_url)
            assert page.status_code == 200
            assert "Complete" in page.text
            assert "Fail" in page.text
            submitted = await browser.post(challenge_url, data={"outcome": "pass"})
        assert submitted.status_code == 303
        location = submitted.headers["location"]
        assert location.startswith("https://shop.example/return?order=7&payment_intent=")
        assert "redirect_status=succeeded" in location

        done = await client.v1.payment_intents.retrieve_async(pi.id)
        assert done.status == "succeeded"
        charge = await client.v1.charges.retrieve_async(done.latest_charge)
        assert charge.payment_method_details.card.three_d_secure.result == "authenticated"
        assert (await event_types(client, pi.id))[-1] == "payment_intent.succeeded"

    @pytest.mark.asyncio
    async def test_challenge_failed(self, client: stripe.StripeClient, sandbox: Sandbox) -> None:
        pm = await client.v1.payment_methods.create_async(
            {
                "type": "card",
                "card": {
                    "number": "4000002500003155",
                    "exp_month": 12,
                    "exp_year": 2040,
                    "cvc": "123",
                },
            }
        )
        pi = await client.v1.payment_intents.create_async(
            {
                "amount": 3000,
                "currency": "usd",
                "payment_method": pm.id,
                "confirm": True,
                "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            }
        )
        assert pi.status == "requires_action"
        assert pi.next_action.type == "use_stripe_sdk"
        result = sandbox.three_d_secure(pi.id, "fail")
        assert result["payment_intent"]["status"] == "requires_payment_method"
        failed = await client.v1.payment_intents.retrieve_async(pi.id)
        assert failed.status == "requires_payment_method"
        assert failed.last_payment_error.code == "payment_intent_authentication_failure"
        assert (await event_types(client, pi.id))[-1] == "payment_intent.payment_failed"


class TestValidation:
    @pytest.mark.asyncio
    async def test_missing_amount(self, client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.payment_intents.create_async({"currency": "usd"})
        assert (caught.value.code, caught.value.param) == ("parameter_missing", "amount")
        assert caught.value.http_status == 400

    @pytest.mark.asyncio
    async def test_invalid_integer_and_currency(self, sandbox: Sandbox) -> None:
        auth = {"Authorization": f"Bearer {sandbox.secret_key}"}
        async with httpx.AsyncClient(base_url=sandbox.url, headers=auth) as http:
            bad_amount = await http.post(
                "/v1/payment_intents", data={"amount": "12.5", "currency": "usd"}
            )
            bad_currency = await http.post(
                "/v1/payment_intents", data={"amount": "1000", "currency": "zzz"}
            )
            unknown = await http.post(
                "/v1/payment_intents", data={"amount": "1000", "currency": "usd", "colour": "red"}
            )
        assert bad_amount.status_code == 400
        assert bad_amount.json()["error"]["code"] == "parameter_invalid_integer"
        assert bad_amount.headers["request-id"].startswith("req_")
        assert bad_currency.json()["error"]["param"] == "currency"
        assert unknown.json()["error"]["code"] == "parameter_unknown"

    @pytest.mark.asyncio
    async def test_cancel_after_success_is_an_unexpected_state(
        self, client: stripe.StripeClient
    ) -> None:
        pi = await client.v1.payment_intents.create_async(
            {
                "amount": 1000,
                "currency": "usd",
                "payment_method_types": ["card"],
                "payment_method": "pm_card_visa",
                "confirm": True,
            }
        )
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.payment_intents.cancel_async(pi.id)
        assert caught.value.code == "payment_intent_unexpected_state"

    @pytest.mark.asyncio
    async def test_automatic_payment_methods_need_a_return_url_to_confirm(
        self, client: stripe.StripeClient
    ) -> None:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.payment_intents.create_async(
                {
                    "amount": 1000,
                    "currency": "usd",
                    "payment_method": "pm_card_visa",
                    "confirm": True,
                }
            )
        assert caught.value.param == "return_url"
        assert "allow_redirects" in str(caught.value)

    @pytest.mark.asyncio
    async def test_unknown_object_is_404(self, client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.payment_intents.retrieve_async("pi_doesnotexist")
        assert (caught.value.http_status, caught.value.code) == (404, "resource_missing")

    @pytest.mark.asyncio
    async def test_wrong_key_is_401(self, sandbox: Sandbox) -> None:
        sdk = stripe.StripeClient(
            "sk_test_wrong", base_addresses={"api": sandbox.url}, http_client=stripe.HTTPXClient()
        )
        with pytest.raises(stripe.AuthenticationError):
            await sdk.v1.payment_intents.list_async()

    @pytest.mark.asyncio
    async def test_publishable_key_cannot_create_payment_intents(self, sandbox: Sandbox) -> None:
        sdk = stripe.StripeClient(
            sandbox.publishable_key,
            base_addresses={"api": sandbox.url},
            http_client=stripe.HTTPXClient(),
        )
        with pytest.raises(stripe.AuthenticationError):
            await sdk.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})


class TestPublishableKey:
    @pytest.mark.asyncio
    async def test_card_details_become_a_payment_method_as_stripe_js_sends_them(
        self, client: stripe.StripeClient, sandbox: Sandbox
    ) -> None:
        pi = await client.v1.payment_intents.create_async({"amount": 4200, "currency": "usd"})
        async with httpx.AsyncClient(base_url=sandbox.url) as browser:
            created = await browser.post(
                "/v1/payment_methods",
                data={
                    "type": "card",
                    "card[number]": "4242 4242 4242 4242",
                    "card[exp_month]": "12",
                    "card[exp_year]": "34",
                    "card[cvc]": "123",
                    "billing_details[name]": "Jenny Rosen",
                    "key": sandbox.publishable_key,
                    "payment_user_agent": "stripe.js/abc",
                },
            )
            assert created.status_code == 200, created.text
            pm = created.json()
            assert pm["card"]["last4"] == "4242"
            assert pm["card"]["exp_year"] == 2034
            assert created.headers["access-control-allow-origin"] == "*"

            confirm_path = f"/v1/payment_intents/{pi.id}/confirm"
            wrong = await browser.post(
                confirm_path,
                data={
                    "payment_method": pm["id"],
                    "client_secret": "nope",
                    "key": sandbox.publishable_key,
                },
            )
            assert wrong.status_code == 400
            confirmed = await browser.post(
                confirm_path,
                headers={"Authorization": f"Bearer {sandbox.publishable_key}"},
                data={
                    "payment_method": pm["id"],
                    "client_secret": pi.client_secret,
                    "return_url": "https://shop.example/return",
                },
            )
            assert confirmed.status_code == 200, confirmed.text
            assert confirmed.json()["status"] == "succeeded"
            fetched = await browser.get(
                f"/v1/payment_intents/{pi.id}",
                params={"client_secret": pi.client_secret, "key": sandbox.publishable_key},
            )
            assert fetched.json()["status"] == "succeeded"
            listing = await browser.get(
                "/v1/payment_intents", params={"key": sandbox.publishable_key}
            )
            assert listing.status_code == 401

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("number", "code"),
        [
            ("4242424242424241", "incorrect_number"),
            ("1234", "incorrect_number"),
        ],
    )
    async def test_bad_card_numbers_are_card_errors(
        self, client: stripe.StripeClient, number: str, code: str
    ) -> None:
        with pytest.raises(stripe.CardError) as caught:
            await client.v1.payment_methods.create_async(
                {"type": "card", "card": {"number": number, "exp_month": 1, "exp_year": 2040}}
            )
        assert caught.value.code == code


class TestLists:
    @pytest.mark.asyncio
    async def test_pagination_is_newest_first(self, client: stripe.StripeClient) -> None:
        ids = []
        for amount in (1000, 1100, 1200, 1300, 1400):
            pi = await client.v1.payment_intents.create_async({"amount": amount, "currency": "usd"})
            ids.append(pi.id)
        first = await client.v1.payment_intents.list_async({"limit": 2})
        assert [p.id for p in first.data] == ids[::-1][:2]
        assert first.has_more is True
        assert first.url == "/v1/payment_intents"
        second = await client.v1.payment_intents.list_async(
            {"limit": 2, "starting_after": first.data[-1].id}
        )
        assert [p.id for p in second.data] == ids[::-1][2:4]
        back = await client.v1.payment_intents.list_async(
            {"limit": 2, "ending_before": second.data[0].id}
        )
        assert [p.id for p in back.data] == [p.id for p in first.data]
        seen = [
            p.id
            async for p in (
                await client.v1.payment_intents.list_async({"limit": 2})
            ).auto_paging_iter()
        ]
        assert seen == ids[::-1]
