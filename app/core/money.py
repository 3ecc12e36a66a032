"""The one currency table: ISO-4217 exponents and, beside them, each provider's own rules.

Our API speaks ISO minor units everywhere (`2000 USD` is $20.00, `500 JPY` is ¥500).
Providers do not always agree with ISO: Stripe writes ISK as if it had two decimals (and
refuses fractional krónur), writes MGA with none, and wants the last digit of a three-decimal
amount to be 0. Each adapter converts with its own column of this table, in both directions,
so services never see a provider's idea of a minor unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class ProviderUnits:
    """How one provider writes amounts of one currency, all in the provider's own units."""

    exponent: int
    step: int = 1  # every amount is a multiple of this
    minimum: int = 1
    maximum: int = 99_999_999


@dataclass(frozen=True, slots=True)
class Currency:
    code: str  # ISO-4217, upper case
    exponent: int  # ISO-4217 minor-unit exponent
    stripe: ProviderUnits | None  # None: the provider does not take this currency
    pingxx: ProviderUnits | None


class AmountOutOfRange(ValueError):
    """An ISO amount a provider cannot charge; `minimum`/`maximum` are ISO minor units."""

    code = "amount_not_representable"

    def __init__(
        self, message: str, *, minimum: int | None = None, maximum: int | None = None
    ) -> None:
        super().__init__(message)
        self.minimum = minimum
        self.maximum = maximum


class AmountNotRepresentable(AmountOutOfRange):
    code = "amount_not_representable"


class AmountBelowMinimum(AmountOutOfRange):
    code = "amount_below_minimum"


class AmountAboveMaximum(AmountOutOfRange):
    code = "amount_above_maximum"


class CurrencyNotSupported(AmountOutOfRange):
    code = "currency_not_supported"


def _words(text: str) -> list[str]:
    return text.upper().split()


_ISO_ZERO = _words("bif clp djf gnf isk jpy kmf krw pyg rwf ugx uyi vnd vuv xaf xof xpf")
_ISO_THREE = _words("bhd iqd jod kwd lyd omr tnd")
_ISO_TWO = _words(
    "aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bmd bnd bob brl bsd btn bwp byn "
    "bzd cad cdf chf cny cop crc cup cve czk dkk dop dzd egp ern etb eur fjd fkp gbp gel ghs "
    "gip gmd gtq gyd hkd hnl htg huf idr ils inr irr jmd kes kgs khr kpw kyd kzt lak lbp lkr "
    "lrd lsl mad mdl mga mkd mmk mnt mop mru mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd "
    "pab pen pgk php pkr pln qar ron rsd rub sar sbd scr sdg sek sgd shp sle sos srd ssp stn "
    "syp szl thb tjs tmt top try ttd twd tzs uah usd uyu uzs ves wst xcd yer zar zmw zwl"
)

# What Stripe's "Supported currencies" page lists for card payments.
_STRIPE_SUPPORTED = _words(
    "usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd "
    "bwp byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp "
    "gel gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw "
    "kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad "
    "ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek "
    "sgd shp sle sos srd szl thb tjs tnd top try ttd twd tzs uah ugx uyu uzs vnd vuv wst xaf "
    "xcd xof xpf yer zar zmw"
)
# Stripe's zero-decimal list. MGA is two-decimal in ISO-4217: MGA 550 (5.50) cannot go to
# Stripe at all, and MGA 500 goes as 5.
_STRIPE_ZERO = _words("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf")
# Amounts must end in 0 "to ensure compatibility with Stripe's payments partners".
_STRIPE_THREE = _words("bhd jod kwd omr tnd")
# Stripe's minimum charge amounts, in Stripe's units, for the currencies its docs list;
# elsewhere the minimum is "the equivalent of $0.50", which needs an exchange rate.
_STRIPE_MINIMUM = {
    "USD": 50, "AED": 200, "AUD": 50, "BGN": 100, "BRL": 50, "CAD": 50, "CHF": 50,
    "CZK": 1500, "DKK": 250, "EUR": 50, "GBP": 30, "HKD": 400, "HUF": 17500, "INR": 50,
    "JPY": 50, "MXN": 1000, "MYR": 200, "NOK": 300, "NZD": 50, "PLN": 200, "RON": 200,
    "SEK": 300, "SGD": 50, "THB": 1000,
}  # fmt: skip
# Eight digits everywhere, except IDR, which may use twelve.
_STRIPE_MAXIMUM = {"IDR": 999_999_999_999}


def _stripe_units(code: str) -> ProviderUnits | None:
    if code not in _STRIPE_SUPPORTED:
        return None
    minimum = _STRIPE_MINIMUM.get(code, 1)
    maximum = _STRIPE_MAXIMUM.get(code, 99_999_999)
    if code == "ISK":
        # Zero-decimal in ISO and in fact, but Stripe keeps writing it with two decimals
        # and, since 2023, refuses any amount that is not a whole króna.
        return ProviderUnits(exponent=2, step=100, minimum=minimum, maximum=maximum)
    if code in _STRIPE_ZERO:
        return ProviderUnits(exponent=0, minimum=minimum, maximum=maximum)
    if code in _STRIPE_THREE:
        return ProviderUnits(exponent=3, step=10, minimum=max(minimum, 10), maximum=maximum)
    return ProviderUnits(exponent=2, minimum=minimum, maximum=maximum)


def _pingxx_units(code: str) -> ProviderUnits | None:
    # Ping++ (Alipay, WeChat Pay) charges renminbi only, in fen; Alipay's single-payment
    # ceiling is 100,000,000 yuan.
    return ProviderUnits(exponent=2, maximum=10_000_000_000) if code == "CNY" else None


def _build() -> Mapping[str, Currency]:
    table: dict[str, Currency] = {}
    for exponent, codes in ((0, _ISO_ZERO), (2, _ISO_TWO), (3, _ISO_THREE)):
        for code in codes:
            table[code] = Currency(code, exponent, _stripe_units(code), _pingxx_units(code))
    return MappingProxyType(table)


CURRENCIES: Mapping[str, Currency] = _build()

# What our API accepts at all, before any provider's limits: JSON-safe and BIGINT-safe.
MAX_AMOUNT = 10**15


def currency(code: str) -> Currency:
    return CURRENCIES[code]


def is_known_currency(code: str) -> bool:
    return code in CURRENCIES


def exponent(code: str) -> int:
    return CURRENCIES[code].exponent


def to_major(amount: int, code: str) -> Decimal:
    """For display only: 1050 USD -> 10.50, 500 JPY -> 500, 1500 KWD -> 1.500."""
    return Decimal(amount).scaleb(-exponent(code))


def _ten_to(power: int) -> int:
    assert power >= 0
    result: int = 10**power
    return result


def to_provider_units(amount: int, code: str, units: ProviderUnits) -> int:
    """An ISO amount in a provider's units; AmountNotRepresentable when it has no exact image."""
    shift = units.exponent - exponent(code)
    if shift >= 0:
        value = amount * _ten_to(shift)
    else:
        value, remainder = divmod(amount, _ten_to(-shift))
        if remainder:
            raise AmountNotRepresentable(
                f"{to_major(amount, code)} {code} has more decimals than the provider takes"
            )
    if value % units.step:
        raise AmountNotRepresentable(
            f"{to_major(amount, code)} {code}: the provider takes only multiples of "
            f"{from_provider_units(units.step, code, ProviderUnits(units.exponent))} "
            f"minor units"
        )
    return value


def from_provider_units(value: int, code: str, units: ProviderUnits) -> int:
    """A provider's amount in ISO minor units; AmountNotRepresentable when it is not exact."""
    shift = units.exponent - exponent(code)
    if shift <= 0:
        return value * _ten_to(-shift)
    amount, remainder = divmod(value, _ten_to(shift))
    if remainder:
        raise AmountNotRepresentable(f"{value} in the provider's units of {code} is not exact")
    return amount


def check_chargeable(amount: int, code: str, units: ProviderUnits | None) -> int:
    """The amount in the provider's units, or the reason it cannot be charged there."""
    if units is None:
        raise CurrencyNotSupported(f"{code} is not accepted by this provider")
    value = to_provider_units(amount, code, units)
    minimum = _iso_ceiling(units.minimum, code, units)
    maximum = _iso_floor(units.maximum, code, units)
    if value < units.minimum:
        raise AmountBelowMinimum(
            f"{to_major(amount, code)} {code} is below the provider's minimum of "
            f"{to_major(minimum, code)} {code}",
            minimum=minimum,
            maximum=maximum,
        )
    if value > units.maximum:
        raise AmountAboveMaximum(
            f"{to_major(amount, code)} {code} is above the provider's maximum of "
            f"{to_major(maximum, code)} {code}",
            minimum=minimum,
            maximum=maximum,
        )
    return value


def _iso_ceiling(value: int, code: str, units: ProviderUnits) -> int:
    """The smallest ISO amount whose image is at least `value` provider units."""
    shift = units.exponent - exponent(code)
    return value * _ten_to(-shift) if shift <= 0 else -(-value // _ten_to(shift))


def _iso_floor(value: int, code: str, units: ProviderUnits) -> int:
    """The largest ISO amount whose image is at most `value` provider units."""
    shift = units.exponent - exponent(code)
    return value * _ten_to(-shift) if shift <= 0 else value // _ten_to(shift)
