"""Stripe's currency rules, read from the service's one currency table.

`app.core.money.CURRENCIES[code].stripe` says, in Stripe's own units, which currencies Stripe
takes, how many decimals it writes, which step every amount must be a multiple of, and the
minimum and maximum charge. The sandbox enforces exactly that column, so the adapter's
conversions and the sandbox cannot disagree. It is the only thing the sandbox takes from `app`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from app.core import money
from app.core.money import ProviderUnits

from .errors import invalid_request

# Stripe writes currency codes in lower case; the table uses ISO's upper case.
UNITS: Mapping[str, ProviderUnits] = MappingProxyType(
    {
        code.lower(): entry.stripe
        for code, entry in money.CURRENCIES.items()
        if entry.stripe is not None
    }
)

SUPPORTED = frozenset(UNITS)
ZERO_DECIMAL = frozenset(code for code, units in UNITS.items() if units.exponent == 0)
THREE_DECIMAL = frozenset(code for code, units in UNITS.items() if units.exponent == 3)

# The minimums Stripe publishes. Where the table's minimum is no more than the step, a positive
# multiple of the step already meets it (three-decimal currencies: 10).
MINIMUM_AMOUNT: Mapping[str, int] = MappingProxyType(
    {code: units.minimum for code, units in UNITS.items() if units.minimum > units.step}
)

# Stripe's "up to eight digits"; `maximum(currency)` has the exceptions (IDR takes twelve).
MAXIMUM_AMOUNT = 99_999_999

_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cny": "¥", "inr": "₹"}


def units(currency: str) -> ProviderUnits:
    return UNITS[currency]


def exponent(currency: str) -> int:
    """Stripe's exponent, which is not always ISO's: ISK 2, MGA 0."""
    return UNITS[currency].exponent


def minimum(currency: str) -> int:
    return UNITS[currency].minimum


def maximum(currency: str) -> int:
    return UNITS[currency].maximum


def display(amount: int, currency: str) -> str:
    """`$0.50`, `¥50`: how Stripe writes an amount in its error messages."""
    digits = exponent(currency)
    major = f"{amount / 10**digits:,.{digits}f}"
    return f"{_SYMBOLS.get(currency, '')}{major}"


def check_step(amount: int, currency: str, *, param: str = "amount") -> None:
    """Refuse an amount that is not a multiple of the currency's step, as Stripe does."""
    step = UNITS[currency].step
    if amount % step == 0:
        return
    code = currency.upper()
    if 10 ** (UNITS[currency].exponent - money.exponent(code)) == step:
        # ISK: Stripe still writes two decimals but refuses fractional krónur.
        raise invalid_request(
            f"Invalid amount. Currency {code} has become effectively zero-decimal and charged "
            f"amounts must be evenly divisible by {step}.",
            code="invalid_charge_amount_no_decimal_compatible",
            param=param,
            saved=False,
        )
    # Three-decimal currencies must end in 0 "to ensure compatibility with Stripe's payments
    # partners". Stripe documents the rule but not the error it answers with; the code is
    # Stripe's generic `invalid_charge_amount` and the message is ours.
    raise invalid_request(
        f"Invalid amount. Amounts in {code} must be a multiple of {step} (the last digit must "
        "be 0); round to the nearest ten.",
        code="invalid_charge_amount",
        param=param,
        saved=False,
    )


def check_charge_amount(amount: int, currency: str, *, enforce_minimum: bool = True) -> None:
    """The step, then the maximum, then (unless turned off) the minimum of a charge amount."""
    check_step(amount, currency)
    most = maximum(currency)
    if amount > most:
        raise invalid_request(
            f"Amount must be no more than {display(most, currency)} {currency}",
            code="amount_too_large",
            param="amount",
            saved=False,
        )
    least = MINIMUM_AMOUNT.get(currency)
    if enforce_minimum and least is not None and amount < least:
        raise invalid_request(
            f"Amount must be at least {display(least, currency)} {currency}",
            code="amount_too_small",
            param="amount",
            saved=False,
        )
