"""The sandbox's currency rules come from `app.core.money` and are enforced as Stripe does."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import stripe

from app.core.money import CURRENCIES
from sandbox.stripe import currencies

SANDBOX_ROOT = Path(__file__).resolve().parents[2] / "sandbox"

ISK_MESSAGE = (
    "Invalid amount. Currency ISK has become effectively zero-decimal and charged amounts must "
    "be evenly divisible by 100."
)


async def paid_intent(
    client: stripe.StripeClient, amount: int, currency: str
) -> stripe.PaymentIntent:
    return await client.v1.payment_intents.create_async(
        {
            "amount": amount,
            "currency": currency,
            "payment_method_types": ["card"],
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )


async def refused(client: stripe.StripeClient, amount: int, currency: str) -> stripe.StripeError:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.payment_intents.create_async({"amount": amount, "currency": currency})
    return caught.value


class TestOneTable:
    def test_every_rule_is_the_stripe_column_of_the_apps_table(self) -> None:
        column = {code.lower(): c.stripe for code, c in CURRENCIES.items() if c.stripe is not None}
        assert set(column) == currencies.SUPPORTED
        for code, units in column.items():
            assert currencies.exponent(code) == units.exponent
            assert currencies.maximum(code) == units.maximum
            assert currencies.units(code).step == units.step
        assert currencies.MINIMUM_AMOUNT["usd"] == column["usd"].minimum == 50
        assert currencies.maximum("idr") == 999_999_999_999
        assert (currencies.exponent("isk"), currencies.exponent("mga")) == (2, 0)

    def test_the_sandbox_imports_nothing_else_from_app(self) -> None:
        imported: set[str] = set()
        for path in SANDBOX_ROOT.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    imported.add(node.module)
                elif isinstance(node, ast.Import):
                    imported.update(alias.name for alias in node.names)
        from_app = {name for name in imported if name == "app" or name.startswith("app.")}
        assert from_app <= {"app.core", "app.core.money"}

    def test_display_uses_stripes_exponent(self) -> None:
        assert currencies.display(50, "usd") == "$0.50"
        assert currencies.display(50000, "isk") == "500.00"
        assert currencies.display(1500, "kwd") == "1.500"
        assert currencies.display(500, "jpy") == "¥500"


class TestSteps:
    @pytest.mark.asyncio
    async def test_isk_amounts_must_be_whole_kronur(self, client: stripe.StripeClient) -> None:
        error = await refused(client, 5050, "isk")
        assert error.http_status == 400
        assert (error.code, error.param) == (
            "invalid_charge_amount_no_decimal_compatible",
            "amount",
        )
        assert error.user_message == ISK_MESSAGE
        assert error.json_body["error"]["type"] == "invalid_request_error"
        pi = await client.v1.payment_intents.create_async({"amount": 5000, "currency": "isk"})
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.payment_intents.update_async(pi.id, {"amount": 5001})
        assert caught.value.code == "invalid_charge_amount_no_decimal_compatible"
        assert (await client.v1.payment_intents.retrieve_async(pi.id)).amount == 5000

    @pytest.mark.asyncio
    @pytest.mark.parametrize("currency", ["bhd", "jod", "kwd", "omr", "tnd"])
    async def test_three_decimal_amounts_must_end_in_zero(
        self, client: stripe.StripeClient, currency: str
    ) -> None:
        error = await refused(client, 1005, currency)
        assert error.http_status == 400
        assert (error.code, error.param) == ("invalid_charge_amount", "amount")
        assert error.json_body["error"]["type"] == "invalid_request_error"
        pi = await client.v1.payment_intents.create_async({"amount": 1010, "currency": currency})
        assert pi.amount == 1010

    @pytest.mark.asyncio
    async def test_refunds_follow_the_step_too(self, client: stripe.StripeClient) -> None:
        isk = await paid_intent(client, 10000, "isk")
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.refunds.create_async({"payment_intent": isk.id, "amount": 150})
        assert (caught.value.code, caught.value.param) == (
            "invalid_charge_amount_no_decimal_compatible",
            "amount",
        )
        assert (
            await client.v1.refunds.create_async({"payment_intent": isk.id, "amount": 100})
        ).amount == 100
        kwd = await paid_intent(client, 5000, "kwd")
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.refunds.create_async({"payment_intent": kwd.id, "amount": 1234})
        assert caught.value.code == "invalid_charge_amount"
        assert (
            await client.v1.refunds.create_async({"payment_intent": kwd.id, "amount": 1230})
        ).amount == 1230


class TestLimits:
    @pytest.mark.asyncio
    async def test_minimum_and_maximum_are_unchanged(self, client: stripe.StripeClient) -> None:
        small = await refused(client, 49, "usd")
        assert (small.code, small.param) == ("amount_too_small", "amount")
        assert small.user_message == "Amount must be at least $0.50 usd"
        large = await refused(client, 100_000_000, "usd")
        assert (large.code, large.param) == ("amount_too_large", "amount")
        assert large.user_message == "Amount must be no more than $999,999.99 usd"

    @pytest.mark.asyncio
    async def test_idr_takes_twelve_digits(self, client: stripe.StripeClient) -> None:
        pi = await client.v1.payment_intents.create_async(
            {"amount": 999_999_999_999, "currency": "idr"}
        )
        assert pi.amount == 999_999_999_999
        error = await refused(client, 1_000_000_000_000, "idr")
        assert error.code == "amount_too_large"
        assert error.user_message == "Amount must be no more than 9,999,999,999.99 idr"

    @pytest.mark.asyncio
    async def test_a_currency_without_a_stripe_column_is_refused(
        self, client: stripe.StripeClient
    ) -> None:
        without = sorted(code.lower() for code, c in CURRENCIES.items() if c.stripe is None)
        assert without, "the table should list currencies Stripe does not take"
        error = await refused(client, 1000, without[0])
        assert error.param == "currency"
