"""PaymentIntents and the Charges their confirmation creates."""

from __future__ import annotations

import contextlib
import copy
from typing import Any
from urllib.parse import urlencode

from . import currencies, objects, payment_methods
from .cards import TestCard
from .errors import (
    StripeError,
    invalid_request,
    parameter_invalid,
    parameter_missing,
    parameters_exclusive,
)
from .params import (
    Params,
    apply_metadata,
    check_known,
    get_bool,
    get_dict,
    get_enum,
    get_int,
    get_optional_str,
    get_str,
    get_str_list,
)
from .state import PaymentIntentSide, RequestContext, StripeSandbox

Obj = dict[str, Any]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


PAYMENT_METHOD_TYPES = _words(
    "acss_debit affirm afterpay_clearpay alipay alma amazon_pay au_becs_debit bacs_debit "
    "bancontact billie blik boleto card cashapp crypto customer_balance eps fpx giropay "
    "grabpay ideal kakao_pay klarna konbini kr_card link mobilepay multibanco naver_pay "
    "nz_bank_account oxxo p24 pay_by_bank payco paynow paypal pix promptpay revolut_pay "
    "samsung_pay satispay sepa_debit sofort swish twint us_bank_account wechat_pay zip"
)

CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
UPDATABLE_STATUSES = ("requires_payment_method", "requires_confirmation", "requires_action")
CONFIRMABLE_STATUSES = ("requires_confirmation", "requires_action", "requires_payment_method")
CANCELABLE_STATUSES = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
)

# Parameters Stripe accepts that the sandbox stores or ignores without changing behaviour.
_PASSIVE_PARAMS = {
    "amount_details",
    "application_fee_amount",
    "confirmation_token",
    "customer_account",
    "error_on_requires_action",
    "excluded_payment_method_types",
    "hooks",
    "mandate",
    "mandate_data",
    "off_session",
    "on_behalf_of",
    "payment_details",
    "payment_method_configuration",
    "payment_method_options",
    "radar_options",
    "transfer_data",
    "use_stripe_sdk",
}

CREATE_PARAMS = {
    "amount",
    "currency",
    "automatic_payment_methods",
    "capture_method",
    "confirm",
    "confirmation_method",
    "customer",
    "description",
    "expand",
    "metadata",
    "payment_method",
    "payment_method_data",
    "payment_method_types",
    "receipt_email",
    "return_url",
    "setup_future_usage",
    "shipping",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "transfer_group",
} | _PASSIVE_PARAMS

UPDATE_PARAMS = {
    "amount",
    "currency",
    "capture_method",
    "customer",
    "description",
    "expand",
    "metadata",
    "payment_method",
    "payment_method_data",
    "payment_method_types",
    "receipt_email",
    "setup_future_usage",
    "shipping",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "transfer_group",
} | _PASSIVE_PARAMS

CONFIRM_PARAMS = (
    {
        "capture_method",
        "client_secret",
        "expand",
        "expected_payment_method_type",
        "payment_method",
        "payment_method_data",
        "payment_method_types",
        "receipt_email",
        "return_url",
        "setup_future_usage",
        "shipping",
    }
    | _PASSIVE_PARAMS
    | payment_methods.STRIPE_JS_PARAMS
)

# Changing these moves a PaymentIntent back before confirmation, so Stripe refuses them later.
_MONEY_FIELDS = ("amount", "currency", "payment_method", "payment_method_data", "capture_method")
# How the payment is taken: fixed once the PaymentIntent is processing, succeeded or canceled.
_PAYMENT_FIELDS = (
    *_MONEY_FIELDS,
    "payment_method_types",
    "setup_future_usage",
    "payment_method_options",
    "excluded_payment_method_types",
    "payment_method_configuration",
    "radar_options",
)
# A canceled PaymentIntent is closed. Stripe refuses even descriptive fields on it (seen:
# `radar_options`, `amount`, `payment_method`); metadata, the caller's own bookkeeping, is assumed
# to stay writable as on every other Stripe object.
_CANCELED_WRITABLE = frozenset({"metadata", "expand"})

# What Stripe returns to a publishable key (Stripe.js): the fields its API reference marks
# "retrievable with publishable key". No metadata, customer, latest_charge or descriptors.
PUBLISHABLE_FIELDS = (
    "id",
    "object",
    "amount",
    "automatic_payment_methods",
    "canceled_at",
    "cancellation_reason",
    "capture_method",
    "client_secret",
    "confirmation_method",
    "created",
    "currency",
    "description",
    "last_payment_error",
    "livemode",
    "next_action",
    "payment_method",
    "payment_method_types",
    "processing",
    "receipt_email",
    "setup_future_usage",
    "shipping",
    "status",
)


def unexpected_state(message: str, pi: Obj, param: str | None = None) -> StripeError:
    return invalid_request(
        message,
        code="payment_intent_unexpected_state",
        param=param,
        payment_intent=copy.deepcopy(pi),
    )


def _check_updatable(pi: Obj, params: Params) -> None:
    """Refuse the first parameter Stripe would not change in the PaymentIntent's status."""
    status = pi["status"]
    if status not in UPDATABLE_STATUSES:
        for name in _PAYMENT_FIELDS:
            if name in params:
                raise unexpected_state(
                    f"This PaymentIntent's {name} could not be updated because it has a status "
                    f"of {status}. You may only update the {name} of a PaymentIntent with one of "
                    f"the following statuses: {', '.join(UPDATABLE_STATUSES)}.",
                    pi,
                    param=name,
                )
    if status == "canceled":
        for name in params:
            if name not in _CANCELED_WRITABLE:
                raise unexpected_state(
                    f"This PaymentIntent's {name} could not be updated because it has a status "
                    "of canceled.",
                    pi,
                    param=name,
                )


def browser_view(pi: Obj) -> Obj:
    """The PaymentIntent as a publishable key sees it."""
    return {name: pi[name] for name in PUBLISHABLE_FIELDS if name in pi}


# --- create / retrieve / update / list ------------------------------------------------------


def create(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    params = ctx.params
    check_known(params, CREATE_PARAMS)
    amount = get_int(params, "amount", required=True, minimum=1)
    assert amount is not None
    currency = _currency(params)
    _check_amount(sb, amount, currency)
    types = get_str_list(params, "payment_method_types")
    automatic = get_dict(params, "automatic_payment_methods")
    if types is not None and automatic is not None:
        raise parameters_exclusive("automatic_payment_methods", "payment_method_types")
    allow_redirects = "always"
    if types is not None:
        _check_types(types)
        automatic_enabled = False
    elif automatic is not None:
        enabled = get_bool(automatic, "enabled")
        if enabled is None:
            raise parameter_missing("automatic_payment_methods[enabled]")
        automatic_enabled = enabled
        allow_redirects = get_enum(automatic, "allow_redirects", ("always", "never")) or "always"
        types = ["card"]
    else:
        # Since API version 2023-08-16 Stripe turns on automatic payment methods by default.
        automatic_enabled = True
        types = ["card"]
    capture_method = _capture_method(params) or "automatic"
    confirmation_method = get_enum(params, "confirmation_method", ("automatic", "manual"))
    setup_future_usage = get_enum(params, "setup_future_usage", ("off_session", "on_session"))
    confirm = get_bool(params, "confirm") or False
    return_url = get_str(params, "return_url")
    if return_url and not confirm:
        raise parameter_invalid(
            "return_url", "You can only pass `return_url` when `confirm` is true."
        )

    pi_id = sb.new_id("pi")
    pi = objects.payment_intent(
        pi_id=pi_id,
        client_secret=f"{pi_id}_secret_{sb.token(25)}",
        amount=amount,
        currency=currency,
        created=sb.now(),
        automatic_payment_methods=automatic_enabled,
        payment_method_types=types,
        metadata=apply_metadata(params),
        description=get_optional_str(params, "description", 1000),
        receipt_email=get_optional_str(params, "receipt_email"),
        customer=get_optional_str(params, "customer"),
        setup_future_usage=setup_future_usage,
        statement_descriptor=get_optional_str(params, "statement_descriptor", 22),
        statement_descriptor_suffix=get_optional_str(params, "statement_descriptor_suffix", 22),
        shipping=get_dict(params, "shipping") or None,
        transfer_group=get_optional_str(params, "transfer_group"),
        capture_method=capture_method,
        pmc_id=sb.new_id("pmc"),
    )
    if pi["automatic_payment_methods"] is not None:
        pi["automatic_payment_methods"]["allow_redirects"] = allow_redirects
    if confirm:
        _require_return_url(pi, return_url)
    if confirmation_method:
        pi["confirmation_method"] = confirmation_method
    pm = _payment_method_from(sb, params)
    sb.insert("payment_intents", pi)
    sb.pi_side[pi_id] = PaymentIntentSide()
    if pm is not None:
        pi["payment_method"] = pm["id"]
        pi["status"] = "requires_confirmation"
    sb.emit("payment_intent.created", pi, ctx)
    if confirm:
        _confirm(sb, pi, pm, ctx, return_url, off_session=_off_session(params))
    return sb.render(pi, params)


def retrieve(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    check_known(ctx.params, {"expand", "client_secret", "key", "_stripe_version"})
    pi = sb.get("payment_intents", ctx.path_params["id"], "payment_intent")
    _check_client_secret(ctx, pi)
    rendered = sb.render(pi, ctx.params)
    return browser_view(rendered) if ctx.publishable else rendered


def update(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    params = ctx.params
    check_known(params, UPDATE_PARAMS)
    pi = sb.get("payment_intents", ctx.path_params["id"], "payment_intent")
    status = pi["status"]
    _check_updatable(pi, params)
    amount = get_int(params, "amount", minimum=1)
    currency = _currency(params) if "currency" in params else pi["currency"]
    if amount is not None or "currency" in params:
        _check_amount(sb, amount if amount is not None else pi["amount"], currency)
    types = get_str_list(params, "payment_method_types")
    if types is not None:
        _check_types(types)
    capture_method = _capture_method(params)
    setup_future_usage = get_enum(params, "setup_future_usage", ("off_session", "on_session"))
    metadata = apply_metadata(params, pi["metadata"])
    strings = {
        name: get_optional_str(params, name, limit)
        for name, limit in (
            ("description", 1000),
            ("receipt_email", None),
            ("customer", None),
            ("statement_descriptor", 22),
            ("statement_descriptor_suffix", 22),
            ("transfer_group", None),
        )
        if name in params
    }
    shipping = get_dict(params, "shipping")
    pm = _payment_method_from(sb, params)

    if amount is not None:
        pi["amount"] = amount
    pi["currency"] = currency
    if types is not None:
        pi["payment_method_types"] = types
        pi["automatic_payment_methods"] = None
        pi["payment_method_configuration_details"] = None
    if capture_method is not None:
        pi["capture_method"] = capture_method
    if "setup_future_usage" in params:
        pi["setup_future_usage"] = setup_future_usage
    pi["metadata"] = metadata
    pi.update(strings)
    if "shipping" in params:
        pi["shipping"] = shipping or None
    pi["last_payment_error"] = None
    if pm is not None:
        pi["payment_method"] = pm["id"]
    if any(name in params for name in _MONEY_FIELDS) and status in UPDATABLE_STATUSES:
        pi["next_action"] = None
        pi["status"] = (
            "requires_confirmation" if pi["payment_method"] else "requires_payment_method"
        )
    return sb.render(pi, params)


def list_all(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    params = ctx.params
    check_known(
        params, {"limit", "starting_after", "ending_before", "created", "customer", "expand"}
    )
    items = list(sb.stores.payment_intents.values())
    customer = get_str(params, "customer")
    if customer:
        items = [pi for pi in items if pi["customer"] == customer]
    return sb.paginate(items, params, "/v1/payment_intents")


# --- confirm / cancel -----------------------------------------------------------------------


def confirm(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    if not ctx.publishable:
        return _confirm_request(sb, ctx)
    # Stripe.js sees the restricted PaymentIntent in answers and in errors alike.
    try:
        return browser_view(_confirm_request(sb, ctx))
    except StripeError as exc:
        seen = exc.extra.get("payment_intent")
        if isinstance(seen, dict):
            exc.extra["payment_intent"] = browser_view(seen)
        raise


def _confirm_request(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    params = ctx.params
    check_known(params, CONFIRM_PARAMS)
    pi = sb.get("payment_intents", ctx.path_params["id"], "payment_intent")
    _check_client_secret(ctx, pi)
    status = pi["status"]
    if status == "canceled":
        # Confirming with a new payment method updates the PaymentIntent first, and Stripe
        # answers with the update's refusal.
        _check_updatable(pi, {name: params[name] for name in _PAYMENT_FIELDS if name in params})
    if status == "succeeded":
        raise unexpected_state(
            "You cannot confirm this PaymentIntent because it has already succeeded after being "
            "previously confirmed.",
            pi,
        )
    if status not in CONFIRMABLE_STATUSES:
        raise unexpected_state(
            f"You cannot confirm this PaymentIntent because it has a status of {status}. Only a "
            "PaymentIntent with one of the following statuses may be confirmed: "
            f"{', '.join(CONFIRMABLE_STATUSES)}.",
            pi,
        )
    types = get_str_list(params, "payment_method_types")
    if types is not None:
        _check_types(types)
    receipt_email = get_optional_str(params, "receipt_email")
    shipping = get_dict(params, "shipping")
    return_url = get_str(params, "return_url") or sb.pi_side[pi["id"]].return_url
    off_session = _off_session(params)
    _require_return_url(pi, return_url)
    pm = _payment_method_from(sb, params)
    if pm is None and pi["payment_method"]:
        pm = sb.stores.payment_methods.get(pi["payment_method"])
    if pm is None:
        raise unexpected_state(
            "You cannot confirm this PaymentIntent because it's missing a payment method. You "
            "can either update the PaymentIntent with a payment method and then confirm it "
            "again, or confirm it again directly with a payment method.",
            pi,
        )
    if types is not None:
        pi["payment_method_types"] = types
    if "receipt_email" in params:
        pi["receipt_email"] = receipt_email
    if "shipping" in params:
        pi["shipping"] = shipping or None
    _confirm(sb, pi, pm, ctx, return_url, off_session=off_session)
    return sb.render(pi, params)


def cancel(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    params = ctx.params
    check_known(params, {"cancellation_reason", "expand"})
    pi = sb.get("payment_intents", ctx.path_params["id"], "payment_intent")
    reason = get_enum(params, "cancellation_reason", CANCELLATION_REASONS)
    status = pi["status"]
    if status not in CANCELABLE_STATUSES:
        raise unexpected_state(
            f"You cannot cancel this PaymentIntent because it has a status of {status}. Only a "
            "PaymentIntent with one of the following statuses may be canceled: "
            f"{', '.join(CANCELABLE_STATUSES)}.",
            pi,
        )
    pi["status"] = "canceled"
    pi["canceled_at"] = sb.now()
    pi["cancellation_reason"] = reason
    pi["next_action"] = None
    pi["amount_capturable"] = 0
    sb.emit("payment_intent.canceled", pi, ctx)
    return sb.render(pi, params)


def _confirm(
    sb: StripeSandbox,
    pi: Obj,
    pm: Obj | None,
    ctx: RequestContext,
    return_url: str | None,
    *,
    off_session: bool,
) -> None:
    if pm is None:
        raise unexpected_state(
            "You cannot confirm this PaymentIntent because it's missing a payment method. To "
            "confirm the PaymentIntent, pass a payment_method or payment_method_data.",
            pi,
        )
    if "card" not in pi["payment_method_types"]:
        raise invalid_request(
            "The PaymentMethod provided (card) is not allowed for this PaymentIntent. Please "
            "attach a PaymentMethod of one of the following types: "
            f"{', '.join(pi['payment_method_types'])}. Alternatively update the allowed "
            'payment_method_types for this PaymentIntent to include "card".',
            code="payment_intent_incompatible_payment_method",
            param="payment_method",
            payment_intent=copy.deepcopy(pi),
        )
    side = sb.pi_side[pi["id"]]
    side.return_url = return_url
    card = payment_methods.card_of(sb, pm)
    pi["payment_method"] = pm["id"]
    pi["last_payment_error"] = None
    pi["next_action"] = None
    if card.outcome == "three_d_secure":
        if off_session:
            decline(sb, pi, pm, _authentication_required(card), ctx)
        require_action(sb, pi, ctx, return_url)
        return
    if card.outcome == "decline":
        decline(sb, pi, pm, card, ctx)
    succeed(sb, pi, pm, card, ctx)


def _require_return_url(pi: Obj, return_url: str | None) -> None:
    automatic = pi["automatic_payment_methods"]
    if return_url or automatic is None or automatic.get("allow_redirects") == "never":
        return
    # Stripe refuses this even for cards: the Dashboard may enable redirect-based methods.
    raise invalid_request(
        "This PaymentIntent is configured to accept payment methods enabled in your Dashboard, "
        "some of which may require a full page redirect to succeed. If you do not want to "
        "accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to "
        "`true` and `automatic_payment_methods[allow_redirects]` to `never` when creating "
        "Setup Intents and Payment Intents.",
        param="return_url",
        saved=False,
    )


def _authentication_required(card: TestCard) -> TestCard:
    return TestCard(
        number=card.number,
        brand=card.brand,
        outcome="decline",
        code="authentication_required",
        decline_code="authentication_required",
        message="Your card was declined. This transaction requires authentication.",
    )


def require_action(
    sb: StripeSandbox, pi: Obj, ctx: RequestContext | None, return_url: str | None
) -> None:
    base = (sb.settings.public_url or (ctx.base_url if ctx else "")).rstrip("/")
    challenge_url = f"{base}/_sandbox/3ds/{pi['id']}"
    pi["status"] = "requires_action"
    if return_url:
        pi["next_action"] = {
            "type": "redirect_to_url",
            "redirect_to_url": {"return_url": return_url, "url": challenge_url},
        }
    else:
        pi["next_action"] = {
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {
                "type": "three_d_secure_redirect",
                "stripe_js": challenge_url,
                "source": sb.new_id("src"),
            },
        }
    sb.emit("payment_intent.requires_action", pi, ctx)


def succeed(
    sb: StripeSandbox,
    pi: Obj,
    pm: Obj,
    card: TestCard,
    ctx: RequestContext | None,
    *,
    three_d_secure: bool = False,
) -> None:
    ch = _new_charge(sb, pi, pm, card, ctx, succeeded=True, three_d_secure=three_d_secure)
    pi["status"] = "succeeded"
    pi["amount_received"] = pi["amount"]
    pi["amount_capturable"] = 0
    pi["latest_charge"] = ch["id"]
    pi["next_action"] = None
    pi["processing"] = None
    pi["last_payment_error"] = None
    sb.emit("charge.succeeded", ch, ctx)
    sb.emit("payment_intent.succeeded", pi, ctx)


def decline(
    sb: StripeSandbox, pi: Obj, pm: Obj, card: TestCard, ctx: RequestContext | None
) -> None:
    """Record a declined attempt and raise the 402 Stripe answers with."""
    ch = _new_charge(sb, pi, pm, card, ctx, succeeded=False)
    error = {
        "type": "card_error",
        "code": card.code,
        "decline_code": card.decline_code,
        "message": card.message,
        "charge": ch["id"],
        "doc_url": f"https://stripe.com/docs/error-codes/{(card.code or '').replace('_', '-')}",
        "payment_method": copy.deepcopy(pm),
        "payment_method_type": "card",
    }
    if card.advice_code:
        error["advice_code"] = card.advice_code
    pi["status"] = "requires_payment_method"
    pi["latest_charge"] = ch["id"]
    # Stripe detaches the failed PaymentMethod so the customer must provide another one.
    pi["payment_method"] = None
    pi["next_action"] = None
    pi["processing"] = None
    pi["last_payment_error"] = error
    sb.emit("charge.failed", ch, ctx)
    sb.emit("payment_intent.payment_failed", pi, ctx)
    extra: Obj = {
        "charge": ch["id"],
        "payment_intent": copy.deepcopy(pi),
        "payment_method": copy.deepcopy(pm),
        "payment_method_type": "card",
    }
    if card.advice_code:
        extra["advice_code"] = card.advice_code
    raise StripeError(
        402,
        "card_error",
        card.message or "Your card was declined.",
        code=card.code,
        decline_code=card.decline_code,
        **extra,
    )


def _new_charge(
    sb: StripeSandbox,
    pi: Obj,
    pm: Obj,
    card: TestCard,
    ctx: RequestContext | None,
    *,
    succeeded: bool,
    three_d_secure: bool = False,
) -> Obj:
    base = (sb.settings.public_url or (ctx.base_url if ctx else "")).rstrip("/")
    ch = objects.charge(
        ch_id=sb.new_id("ch"),
        pi=pi,
        pm=pm,
        card=card,
        created=sb.now(),
        succeeded=succeeded,
        balance_transaction=sb.new_id("txn") if succeeded else None,
        receipt_base=base,
        three_d_secure=objects.three_d_secure_details(sb.token(32)) if three_d_secure else None,
        rng=sb.rng,
    )
    return sb.insert("charges", ch)


# --- the bank's 3-D Secure page and other sandbox controls ---------------------------------


def complete_three_d_secure(sb: StripeSandbox, pi_id: str, passed: bool) -> tuple[Obj, str | None]:
    """Pass or fail the challenge; returns the PaymentIntent and where the browser goes next."""
    pi = sb.get("payment_intents", pi_id, "payment_intent")
    if pi["status"] != "requires_action":
        raise unexpected_state(
            f"This PaymentIntent has a status of {pi['status']}; there is no 3-D Secure "
            "challenge waiting for it.",
            pi,
        )
    pm = sb.stores.payment_methods[pi["payment_method"]]
    if passed:
        succeed(sb, pi, pm, payment_methods.card_of(sb, pm), None, three_d_secure=True)
    else:
        pi["status"] = "requires_payment_method"
        pi["next_action"] = None
        pi["payment_method"] = None
        pi["last_payment_error"] = {
            "type": "invalid_request_error",
            "code": "payment_intent_authentication_failure",
            "message": "The provided PaymentMethod has failed authentication. You can provide "
            "payment_method_data or a new PaymentMethod to attempt to fulfill this "
            "PaymentIntent again.",
            "doc_url": "https://stripe.com/docs/error-codes/payment-intent-authentication-failure",
            "payment_method": copy.deepcopy(pm),
            "payment_method_type": "card",
        }
        sb.emit("payment_intent.payment_failed", pi, None)
    return_url = sb.pi_side[pi_id].return_url
    if not return_url:
        return pi, None
    query = urlencode(
        {
            "payment_intent": pi["id"],
            "payment_intent_client_secret": pi["client_secret"],
            "redirect_status": "succeeded" if passed else "failed",
        }
    )
    separator = "&" if "?" in return_url else "?"
    return pi, f"{return_url}{separator}{query}"


def start_processing(sb: StripeSandbox, pi_id: str) -> Obj:
    pi = sb.get("payment_intents", pi_id, "payment_intent")
    if pi["status"] not in UPDATABLE_STATUSES:
        raise unexpected_state(
            f"This PaymentIntent has a status of {pi['status']} and cannot start processing.", pi
        )
    if not pi["payment_method"]:
        pi["payment_method"] = payment_methods.resolve(sb, "pm_card_visa")["id"]
    pi["status"] = "processing"
    pi["next_action"] = None
    pi["last_payment_error"] = None
    pi["processing"] = {"type": "card", "card": {"customer_notification": None}}
    sb.emit("payment_intent.processing", pi, None)
    return pi


def finish_processing(sb: StripeSandbox, pi_id: str, succeeded: bool) -> Obj:
    pi = sb.get("payment_intents", pi_id, "payment_intent")
    if pi["status"] != "processing":
        raise unexpected_state(
            f"This PaymentIntent has a status of {pi['status']}, not processing.", pi
        )
    pm = sb.stores.payment_methods[pi["payment_method"]]
    card = payment_methods.card_of(sb, pm)
    if succeeded:
        succeed(sb, pi, pm, card, None)
        return pi
    generic = TestCard(
        number=card.number,
        brand=card.brand,
        outcome="decline",
        code="card_declined",
        decline_code="generic_decline",
        message="Your card was declined.",
    )
    with contextlib.suppress(StripeError):
        decline(sb, pi, pm, generic, None)
    return pi


# --- charges ---------------------------------------------------------------------------------


def retrieve_charge(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    check_known(ctx.params, {"expand"})
    return sb.render(sb.get("charges", ctx.path_params["id"], "charge"), ctx.params)


def list_charges(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    params = ctx.params
    check_known(
        params,
        {
            "limit",
            "starting_after",
            "ending_before",
            "created",
            "customer",
            "payment_intent",
            "transfer_group",
            "expand",
        },
    )
    items = list(sb.stores.charges.values())
    for name in ("payment_intent", "customer", "transfer_group"):
        value = get_str(params, name)
        if value:
            items = [ch for ch in items if ch[name] == value]
    return sb.paginate(items, params, "/v1/charges")


# --- helpers ---------------------------------------------------------------------------------


def _currency(params: Params) -> str:
    raw = get_str(params, "currency", required=True)
    assert raw is not None
    currency = raw.lower()
    if currency not in currencies.SUPPORTED:
        raise parameter_invalid(
            "currency",
            f"Invalid currency: {raw}. Stripe currently supports these currencies: "
            f"{', '.join(sorted(currencies.SUPPORTED))}",
        )
    return currency


def _check_amount(sb: StripeSandbox, amount: int, currency: str) -> None:
    currencies.check_charge_amount(
        amount, currency, enforce_minimum=sb.settings.enforce_minimum_amounts
    )


def _check_types(types: list[str]) -> None:
    if not types:
        raise parameter_invalid(
            "payment_method_types",
            "payment_method_types must contain at least one payment method type.",
        )
    for index, name in enumerate(types):
        if name not in PAYMENT_METHOD_TYPES:
            raise parameter_invalid(
                f"payment_method_types[{index}]",
                f'The payment method type "{name}" is invalid. Please ensure the provided type '
                "is activated in your dashboard (https://dashboard.stripe.com/account/payments/"
                "settings) and your account is enabled for any preview features that you are "
                "trying to use.",
                code="payment_intent_invalid_parameter",
            )


def _capture_method(params: Params) -> str | None:
    value = get_enum(params, "capture_method", ("automatic", "automatic_async", "manual"))
    if value == "manual":
        raise parameter_invalid(
            "capture_method",
            "The Stripe sandbox supports capture_method=automatic and automatic_async only.",
        )
    return value


def _payment_method_from(sb: StripeSandbox, params: Params) -> Obj | None:
    pm_id = get_str(params, "payment_method")
    data = get_dict(params, "payment_method_data")
    if pm_id and data:
        raise parameters_exclusive("payment_method", "payment_method_data")
    if pm_id:
        return payment_methods.resolve(sb, pm_id)
    if data:
        return payment_methods.from_payment_method_data(sb, data)
    return None


def _off_session(params: Params) -> bool:
    value = params.get("off_session")
    if value in ("one_off", "recurring"):
        return True
    return bool(get_bool(params, "off_session")) or bool(
        get_bool(params, "error_on_requires_action")
    )


def _check_client_secret(ctx: RequestContext, pi: Obj) -> None:
    if not ctx.publishable:
        return
    secret = get_str(ctx.params, "client_secret")
    if not secret:
        raise parameter_missing("client_secret")
    if secret != pi["client_secret"]:
        raise invalid_request(
            "The client_secret provided does not match the client_secret associated with the "
            "PaymentIntent.",
            code="payment_intent_invalid_parameter",
            param="client_secret",
            saved=False,
        )
