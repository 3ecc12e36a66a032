"""PaymentMethods: raw card numbers (as Stripe.js sends them), test ids and test tokens."""

from __future__ import annotations

import datetime
from typing import Any

from . import objects
from .cards import TEST_PAYMENT_METHODS, TEST_TOKENS, TestCard, lookup
from .errors import StripeError, parameter_invalid, parameter_missing, resource_missing
from .params import apply_metadata, check_known, get_dict, get_str
from .state import RequestContext, StripeSandbox

Obj = dict[str, Any]

# Stripe.js sends these along with the card; Stripe accepts them from publishable keys.
STRIPE_JS_PARAMS = {
    "guid",
    "muid",
    "sid",
    "payment_user_agent",
    "referrer",
    "time_on_page",
    "pasted_fields",
    "client_attribution_metadata",
    "key",
    "_stripe_version",
    "_stripe_account",
}

CREATE_PARAMS = {
    "type",
    "card",
    "billing_details",
    "metadata",
    "expand",
    "allow_redisplay",
    "radar_options",
    "customer",
    "payment_method",
} | STRIPE_JS_PARAMS


def card_error(message: str, code: str, param: str) -> StripeError:
    return StripeError(402, "card_error", message, code=code, param=param)


def create(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    params = ctx.params
    check_known(params, CREATE_PARAMS)
    type_ = get_str(params, "type", required=True)
    if type_ != "card":
        raise parameter_invalid(
            "type", f"Invalid type: {type_}; this sandbox creates card PaymentMethods only"
        )
    card_params = get_dict(params, "card")
    if card_params is None:
        raise parameter_missing("card")
    pm = build_card(
        sb,
        card_params,
        prefix="card",
        details=get_dict(params, "billing_details"),
        metadata=apply_metadata(params),
    )
    return sb.render(pm, params)


def from_payment_method_data(sb: StripeSandbox, data: Obj) -> Obj:
    prefix = "payment_method_data"
    type_ = get_str(data, "type")
    if type_ is None:
        raise parameter_missing(f"{prefix}[type]")
    if type_ != "card":
        raise parameter_invalid(
            f"{prefix}[type]", f"Invalid type: {type_}; this sandbox supports card only"
        )
    card_params = get_dict(data, "card")
    if card_params is None:
        raise parameter_missing(f"{prefix}[card]")
    return build_card(
        sb,
        card_params,
        prefix=f"{prefix}[card]",
        details=get_dict(data, "billing_details"),
        metadata=apply_metadata(data),
    )


def build_card(
    sb: StripeSandbox,
    card_params: Obj,
    *,
    prefix: str,
    details: Obj | None,
    metadata: dict[str, str],
) -> Obj:
    token = card_params.get("token")
    if isinstance(token, str) and token:
        number = TEST_TOKENS.get(token)
        if number is None:
            raise resource_missing("token", token, f"{prefix}[token]")
        card = lookup(number)
        assert card is not None
        return _store(sb, card, 12, datetime.date.today().year + 3, details, metadata, True)

    number = card_params.get("number")
    if not isinstance(number, str) or not number:
        raise parameter_missing(f"{prefix}[number]")
    number = number.replace(" ", "").replace("-", "")
    exp_month = _card_int(card_params, "exp_month", prefix)
    exp_year = _card_int(card_params, "exp_year", prefix)
    cvc = card_params.get("cvc")

    card = lookup(number)
    if card is None:
        # Stripe's test mode refuses any number that is not one of its test cards.
        raise card_error("Your card number is incorrect.", "incorrect_number", f"{prefix}[number]")
    if not 1 <= exp_month <= 12:
        raise card_error(
            "Your card's expiration month is invalid.",
            "invalid_expiry_month",
            f"{prefix}[exp_month]",
        )
    if exp_year < 100:
        exp_year += 2000
    today = datetime.date.today()
    if exp_year < today.year or exp_year > today.year + 50:
        raise card_error(
            "Your card's expiration year is invalid.", "invalid_expiry_year", f"{prefix}[exp_year]"
        )
    if exp_year == today.year and exp_month < today.month:
        raise card_error(
            "Your card's expiration month is invalid.",
            "invalid_expiry_month",
            f"{prefix}[exp_month]",
        )
    if cvc is not None and (
        not isinstance(cvc, str) or not cvc.isdigit() or len(cvc) not in (3, 4)
    ):
        raise card_error("Your card's security code is invalid.", "invalid_cvc", f"{prefix}[cvc]")
    return _store(sb, card, exp_month, exp_year, details, metadata, bool(cvc))


def _card_int(card_params: Obj, name: str, prefix: str) -> int:
    value = card_params.get(name)
    if value is None or value == "":
        raise parameter_missing(f"{prefix}[{name}]")
    if not isinstance(value, str) or not value.isdigit():
        raise parameter_invalid(
            f"{prefix}[{name}]", f"Invalid integer: {value}", code="parameter_invalid_integer"
        )
    return int(value)


def _store(
    sb: StripeSandbox,
    card: TestCard,
    exp_month: int,
    exp_year: int,
    details: Obj | None,
    metadata: dict[str, str],
    cvc_given: bool,
) -> Obj:
    pm = objects.payment_method(
        pm_id=sb.new_id("pm"),
        card=card,
        exp_month=exp_month,
        exp_year=exp_year,
        created=sb.now(),
        details=objects.billing_details(details),
        metadata=metadata,
        cvc_given=cvc_given,
    )
    sb.pm_cards[pm["id"]] = card
    return sb.insert("payment_methods", pm)


def resolve(sb: StripeSandbox, pm_id: str, param: str = "payment_method") -> Obj:
    """A stored PaymentMethod, or a fresh one for Stripe's test ids such as `pm_card_visa`."""
    number = TEST_PAYMENT_METHODS.get(pm_id)
    if number is not None:
        card = lookup(number)
        assert card is not None
        return _store(sb, card, 12, datetime.date.today().year + 3, None, {}, True)
    pm = sb.stores.payment_methods.get(pm_id)
    if pm is None:
        raise resource_missing("PaymentMethod", pm_id, param)
    return pm


def retrieve(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    check_known(ctx.params, {"expand"})
    return sb.render(resolve(sb, ctx.path_params["id"], "id"), ctx.params)


def card_of(sb: StripeSandbox, pm: Obj) -> TestCard:
    return sb.pm_cards[pm["id"]]
