"""The currency table against what Stripe documents. The sandbox takes its rules from the
same table, so a wrong entry would pass every end-to-end test: this pins each rule to
Stripe's "Supported currencies" page."""

from __future__ import annotations

import pytest

from app.core import money
from app.core.money import (
    CURRENCIES,
    AmountAboveMaximum,
    AmountBelowMinimum,
    AmountNotRepresentable,
    CurrencyNotSupported,
    check_chargeable,
    from_provider_units,
    to_provider_units,
)

# docs.stripe.com/currencies#zero-decimal
STRIPE_ZERO_DECIMAL = {
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA",
    "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
}  # fmt: skip
# docs.stripe.com/currencies#three-decimal
STRIPE_THREE_DECIMAL = {"BHD", "JOD", "KWD", "OMR", "TND"}


def stripe(code: str) -> money.ProviderUnits:
    units = CURRENCIES[code].stripe
    assert units is not None
    return units


class TestIso:
    @pytest.mark.parametrize(
        ("code", "exponent"),
        [("USD", 2), ("JPY", 0), ("KWD", 3), ("ISK", 0), ("MGA", 2), ("CNY", 2), ("UGX", 0)],
    )
    def test_exponents(self, code: str, exponent: int) -> None:
        assert CURRENCIES[code].exponent == exponent


class TestStripeColumn:
    def test_the_zero_decimal_list(self) -> None:
        zero = {c for c, entry in CURRENCIES.items() if entry.stripe and entry.stripe.exponent == 0}
        assert zero == STRIPE_ZERO_DECIMAL

    def test_the_three_decimal_list_and_its_last_digit(self) -> None:
        three = {
            c for c, entry in CURRENCIES.items() if entry.stripe and entry.stripe.exponent == 3
        }
        assert three == STRIPE_THREE_DECIMAL
        assert all(stripe(code).step == 10 for code in three)

    @pytest.mark.parametrize(
        ("amount", "code", "at_stripe"),
        [
            (2000, "USD", 2000),
            (500, "JPY", 500),
            # ISK: zero-decimal, written by Stripe with two decimals, whole krónur only.
            (500, "ISK", 50000),
            # MGA: two-decimal in ISO, zero-decimal at Stripe.
            (500, "MGA", 5),
            (1000, "KWD", 1000),
        ],
    )
    def test_conversion_both_ways(self, amount: int, code: str, at_stripe: int) -> None:
        assert to_provider_units(amount, code, stripe(code)) == at_stripe
        assert from_provider_units(at_stripe, code, stripe(code)) == amount

    @pytest.mark.parametrize(("amount", "code"), [(550, "MGA"), (1005, "KWD"), (1, "BHD")])
    def test_what_stripe_cannot_write(self, amount: int, code: str) -> None:
        with pytest.raises(AmountNotRepresentable):
            to_provider_units(amount, code, stripe(code))

    def test_an_amount_stripe_sends_that_is_not_exact_is_refused(self) -> None:
        with pytest.raises(AmountNotRepresentable):
            from_provider_units(50001, "ISK", stripe("ISK"))

    @pytest.mark.parametrize(
        ("code", "minimum"),
        [("USD", 50), ("EUR", 50), ("GBP", 30), ("JPY", 50), ("HUF", 17500), ("THB", 1000)],
    )
    def test_documented_minimums(self, code: str, minimum: int) -> None:
        check_chargeable(minimum, code, stripe(code))
        with pytest.raises(AmountBelowMinimum) as below:
            check_chargeable(minimum - 1, code, stripe(code))
        assert below.value.minimum == minimum

    def test_eight_digits_but_twelve_for_idr(self) -> None:
        check_chargeable(99_999_999, "USD", stripe("USD"))
        with pytest.raises(AmountAboveMaximum):
            check_chargeable(100_000_000, "USD", stripe("USD"))
        check_chargeable(999_999_999_999, "IDR", stripe("IDR"))

    def test_currencies_stripe_does_not_take(self) -> None:
        assert CURRENCIES["IRR"].stripe is None
        with pytest.raises(CurrencyNotSupported):
            check_chargeable(1000, "IRR", CURRENCIES["IRR"].stripe)


class TestPingxxColumn:
    def test_renminbi_only_in_fen(self) -> None:
        takes = {c for c, entry in CURRENCIES.items() if entry.pingxx is not None}
        assert takes == {"CNY"}
        assert to_provider_units(1234, "CNY", CURRENCIES["CNY"].pingxx) == 1234  # type: ignore[arg-type]
