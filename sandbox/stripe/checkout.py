"""Checkout Sessions in `payment` mode: the API, and what paying on the hosted page does.

A session holds no money itself. The customer's first attempt on the hosted page creates its
PaymentIntent (`payment_intent` is null until then, as in every API version since 2022-08-01),
and from then on the session follows that PaymentIntent's events, whichever path moved it: the
hosted page, the 3-D Secure control, or `/_sandbox/payment_intents/{id}/succeed`.
"""

from __future__ import annotations

import asyncio
import copy
import time
from dataclasses import dataclass
from typing import Any

from . import currencies, objects, payment_intents, payment_methods
from .errors import (
    StripeError,
    invalid_request,
    parameter_invalid,
    parameter_missing,
    resource_missing,
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
from .state import RequestContext, StripeSandbox

Obj = dict[str, Any]

# Stripe lets a session live from 30 minutes to 24 hours; 24 hours is the default.
MIN_LIFETIME_SECONDS = 30 * 60
MAX_LIFETIME_SECONDS = 24 * 60 * 60

LOCALES = [
    "auto",
    "bg",
    "cs",
    "da",
    "de",
    "el",
    "en",
    "en-GB",
    "es",
    "es-419",
    "et",
    "fi",
    "fil",
    "fr",
    "fr-CA",
    "hi-IN",
    "hr",
    "hu",
    "id",
    "it",
    "ja",
    "ko",
    "lt",
    "lv",
    "ms",
    "mt",
    "nb",
    "nl",
    "pl",
    "pt",
    "pt-BR",
    "ro",
    "ru",
    "sk",
    "sl",
    "sv",
    "th",
    "tr",
    "vi",
    "zh",
    "zh-HK",
    "zh-TW",
]

# Payment method types whose payments Stripe confirms only later, so the session completes
# `unpaid` and an `async_payment_*` event follows. The hosted page offers them as one
# "Bank debit (test)" choice.
DELAYED_TYPES = frozenset(
    {
        "acss_debit",
        "au_becs_debit",
        "bacs_debit",
        "boleto",
        "customer_balance",
        "konbini",
        "nz_bank_account",
        "oxxo",
        "sepa_debit",
        "us_bank_account",
    }
)

CREATE_PARAMS = {
    "adaptive_pricing",
    "after_expiration",
    "allow_promotion_codes",
    "billing_address_collection",
    "cancel_url",
    "client_reference_id",
    "currency",
    "custom_text",
    "customer_creation",
    "customer_email",
    "expand",
    "expires_at",
    "integration_identifier",
    "line_items",
    "locale",
    "metadata",
    "mode",
    "origin_context",
    "payment_intent_data",
    "payment_method_options",
    "payment_method_types",
    "phone_number_collection",
    "submit_type",
    "success_url",
    "ui_mode",
}
LINE_ITEM_PARAMS = {"price", "price_data", "quantity", "metadata"}
PRICE_DATA_PARAMS = {
    "currency",
    "unit_amount",
    "unit_amount_decimal",
    "product",
    "product_data",
    "tax_behavior",
    "recurring",
}
PRODUCT_DATA_PARAMS = {"name", "description", "images", "metadata", "tax_code", "unit_label"}
# What `payment_intent_data` may carry, passed unchanged to the PaymentIntent's creation.
PAYMENT_INTENT_DATA_PARAMS = {
    "capture_method",
    "description",
    "metadata",
    "receipt_email",
    "setup_future_usage",
    "shipping",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "transfer_group",
}
LIST_PARAMS = {
    "created",
    "customer",
    "customer_details",
    "ending_before",
    "expand",
    "limit",
    "payment_intent",
    "payment_link",
    "starting_after",
    "status",
    "subscription",
}
STATUSES = ("open", "complete", "expired")


# --- the API -------------------------------------------------------------------------------


def create(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    params = ctx.params
    check_known(params, CREATE_PARAMS)
    mode = get_enum(params, "mode", ("payment", "setup", "subscription"))
    if mode is None:
        raise parameter_missing("mode")
    if mode != "payment":
        raise parameter_invalid(
            "mode", f"The Stripe sandbox supports Checkout in `payment` mode only, not `{mode}`."
        )
    ui_mode = get_enum(params, "ui_mode", ("hosted_page", "hosted", "embedded_page", "elements"))
    if ui_mode not in (None, "hosted_page", "hosted"):
        raise parameter_invalid(
            "ui_mode", "The Stripe sandbox serves hosted Checkout pages only (ui_mode=hosted_page)."
        )
    success_url = _url(params, "success_url", required=True)
    assert success_url is not None
    cancel_url = _url(params, "cancel_url", required=False)
    now = sb.now()
    expires_at = _expires_at(params, now)
    types = get_str_list(params, "payment_method_types")
    if types is not None:
        _check_types(types)
    items, currency = _line_items(sb, params, now)
    subtotal = sum(item["amount_subtotal"] for item in items)
    try:
        currencies.check_charge_amount(
            subtotal, currency, enforce_minimum=sb.settings.enforce_minimum_amounts
        )
    except StripeError as exc:
        # Stripe checks the total the PaymentIntent will charge; the culprit is the line items.
        exc.param = "line_items"
        raise
    customer_email = get_optional_str(params, "customer_email", 800)
    if customer_email is not None and not _looks_like_email(customer_email):
        raise invalid_request(
            f"Invalid email address: {customer_email}",
            code="email_invalid",
            param="customer_email",
            saved=False,
        )
    pi_data = _payment_intent_data(params)
    locale = get_enum(params, "locale", LOCALES)
    submit_type = get_enum(params, "submit_type", ("auto", "book", "donate", "pay", "subscribe"))
    phone = get_dict(params, "phone_number_collection") or {}
    adaptive = get_dict(params, "adaptive_pricing") or {}

    cs_id = f"cs_test_a1{sb.token(56)}"
    cs = _session_object(
        cs_id=cs_id,
        created=now,
        expires_at=expires_at,
        amount=subtotal,
        currency=currency,
        success_url=success_url,
        cancel_url=cancel_url,
        url=f"{public_base(sb, ctx.base_url)}/c/pay/{cs_id}",
        customer_email=customer_email,
        client_reference_id=get_optional_str(params, "client_reference_id", 200),
        metadata=apply_metadata(params),
        payment_method_types=types or ["card"],
        payment_method_configuration=None if types else sb.new_id("pmc"),
        locale=locale,
        submit_type=submit_type,
    )
    cs["allow_promotion_codes"] = get_bool(params, "allow_promotion_codes")
    cs["billing_address_collection"] = get_enum(
        params, "billing_address_collection", ("auto", "required")
    )
    cs["customer_creation"] = (
        get_enum(params, "customer_creation", ("always", "if_required")) or "if_required"
    )
    cs["phone_number_collection"] = {"enabled": bool(get_bool(phone, "enabled"))}
    cs["adaptive_pricing"] = {"enabled": bool(get_bool(adaptive, "enabled"))}
    cs["integration_identifier"] = get_optional_str(params, "integration_identifier")
    cs["origin_context"] = get_enum(params, "origin_context", ("mobile_app", "web"))
    sb.insert("checkout_sessions", cs)
    sb.insert(
        "checkout_session_side",
        {
            "id": cs_id,
            "line_items": items,
            "payment_intent_data": pi_data,
            "dynamic_payment_methods": types is None,
            "customer_details": None,
        },
    )
    _schedule_expiry(sb, cs_id, expires_at)
    return render(sb, cs, params)


def retrieve(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    check_known(ctx.params, {"expand"})
    cs = get_session(sb, ctx.path_params["id"])
    return render(sb, cs, ctx.params)


def list_all(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    params = ctx.params
    check_known(params, LIST_PARAMS)
    for cs in list(sb.stores.checkout_sessions.values()):
        refresh(sb, cs)
    items = list(sb.stores.checkout_sessions.values())
    status = get_enum(params, "status", STATUSES)
    if status:
        items = [cs for cs in items if cs["status"] == status]
    for name in ("payment_intent", "customer", "payment_link", "subscription"):
        wanted = get_str(params, name)
        if wanted:
            items = [cs for cs in items if cs[name] == wanted]
    details = get_dict(params, "customer_details")
    if details is not None:
        check_known(details, {"email"})
        email = get_str(details, "email")
        if not email:
            raise parameter_missing("customer_details[email]")
        items = [
            cs
            for cs in items
            if cs["customer_details"] is not None and cs["customer_details"]["email"] == email
        ]
    return sb.paginate(items, params, "/v1/checkout/sessions")


def expire(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    check_known(ctx.params, {"expand"})
    cs = get_session(sb, ctx.path_params["id"])
    if cs["status"] != "open":
        raise invalid_request(
            'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout '
            f"Session has a status of `{cs['status']}`.",
        )
    expire_session(sb, cs, ctx)
    return render(sb, cs, ctx.params)


def list_line_items(sb: StripeSandbox, ctx: RequestContext) -> Obj:
    check_known(ctx.params, {"limit", "starting_after", "ending_before", "expand"})
    cs = get_session(sb, ctx.path_params["id"])
    items = line_items_of(sb, cs)
    # `paginate` lists the newest first; line items keep the order they were given in.
    return sb.paginate(
        list(reversed(items)), ctx.params, f"/v1/checkout/sessions/{cs['id']}/line_items"
    )


def render(sb: StripeSandbox, cs: Obj, params: Params) -> Obj:
    """The session as the API answers; `line_items` appears only when expanded, as in Stripe."""
    expand = get_str_list(params, "expand") or []
    wants_items = "line_items" in expand
    rendered = sb.expand(cs, [path for path in expand if path != "line_items"])
    if wants_items:
        items = line_items_of(sb, cs)
        rendered["line_items"] = objects.list_object(
            copy.deepcopy(items), f"/v1/checkout/sessions/{cs['id']}/line_items"
        )
    return rendered


# --- reading and changing sessions ----------------------------------------------------------


def public_base(sb: StripeSandbox, base_url: str) -> str:
    """Where browsers reach the sandbox: `public_url` when configured, else this request's host."""
    return (sb.settings.public_url or base_url).rstrip("/")


def get_session(sb: StripeSandbox, cs_id: str) -> Obj:
    cs = sb.stores.checkout_sessions.get(cs_id)
    if cs is None:
        raise resource_missing("checkout.session", cs_id)
    refresh(sb, cs)
    return cs


def side_of(sb: StripeSandbox, cs: Obj) -> Obj:
    return sb.stores.checkout_session_side[cs["id"]]


def line_items_of(sb: StripeSandbox, cs: Obj) -> list[Obj]:
    items: list[Obj] = side_of(sb, cs)["line_items"]
    return items


def offers_card(cs: Obj) -> bool:
    return "card" in cs["payment_method_types"]


def offers_bank_debit(sb: StripeSandbox, cs: Obj) -> bool:
    """A delayed-notification method was asked for, or the Dashboard's (dynamic) methods."""
    if side_of(sb, cs)["dynamic_payment_methods"]:
        return True
    return any(name in DELAYED_TYPES for name in cs["payment_method_types"])


def refresh(sb: StripeSandbox, cs: Obj) -> None:
    """Expire a session whose time is up; the timer may not have run (a restart, a paused loop)."""
    if cs["status"] == "open" and time.time() >= cs["expires_at"]:
        expire_session(sb, cs, None)


def expire_session(sb: StripeSandbox, cs: Obj, ctx: RequestContext | None) -> None:
    pi = _payment_intent_of(sb, cs)
    if pi is not None and pi["status"] in payment_intents.CANCELABLE_STATUSES:
        # Stripe cancels the session's PaymentIntent itself, with the reason it gives for
        # cancellations it makes on its own.
        pi["status"] = "canceled"
        pi["canceled_at"] = sb.now()
        pi["cancellation_reason"] = "automatic"
        pi["next_action"] = None
        pi["amount_capturable"] = 0
        sb.emit("payment_intent.canceled", pi, ctx)
    cs["status"] = "expired"
    cs["url"] = None
    sb.emit("checkout.session.expired", cs, ctx)


def expire_due(sb: StripeSandbox, now: float | None = None) -> list[str]:
    """Expire every open session whose `expires_at` has passed; returns their ids."""
    moment = time.time() if now is None else now
    due = [
        cs
        for cs in sb.stores.checkout_sessions.values()
        if cs["status"] == "open" and moment >= cs["expires_at"]
    ]
    for cs in due:
        expire_session(sb, cs, None)
    return [cs["id"] for cs in due]


def _schedule_expiry(sb: StripeSandbox, cs_id: str, expires_at: int) -> None:
    """Expire the session at `expires_at` and announce it, even if nobody looks at it.

    Not `sb.later`: its tasks are what `/_sandbox/webhooks/drain` waits for, and a 24-hour
    sleep among them would make every drain time out. A bare loop timer is not waited for; the
    read-time `refresh` covers a timer lost to a restart or a reset.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    stores = sb.stores

    def fire() -> None:
        if sb.stores is not stores:
            return  # the sandbox was reset; the session is gone
        cs = stores.checkout_sessions.get(cs_id)
        if cs is None or cs["status"] != "open":
            return
        remaining = cs["expires_at"] - time.time()
        if remaining > 0:
            # Loop timers run on the monotonic clock; wait out any difference to wall time.
            loop.call_later(remaining, fire)
            return
        expire_session(sb, cs, None)

    loop.call_later(max(0.0, expires_at - time.time()), fire)


def success_url_for(cs: Obj) -> str:
    url: str = cs["success_url"]
    return url.replace("{CHECKOUT_SESSION_ID}", cs["id"])


# --- paying ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    email: str
    name: str | None


@dataclass(frozen=True)
class PaymentAttempt:
    """What the page shows next: the success page, the bank's challenge, or an error."""

    redirect_to: str | None = None
    error: str | None = None
    error_param: str | None = None


def ensure_payment_intent(sb: StripeSandbox, cs: Obj, ctx: RequestContext) -> Obj:
    """The session's PaymentIntent, created on the customer's first attempt."""
    existing = _payment_intent_of(sb, cs)
    if existing is not None:
        return existing
    side = side_of(sb, cs)
    params: Params = {
        "amount": str(cs["amount_total"]),
        "currency": cs["currency"],
        # Checkout's PaymentIntents carry the session's methods, never automatic ones.
        "payment_method_types": list(cs["payment_method_types"]),
        **copy.deepcopy(side["payment_intent_data"]),
    }
    created = payment_intents.create(sb, _with_params(ctx, params, {}))
    pi = sb.stores.payment_intents[created["id"]]
    cs["payment_intent"] = pi["id"]
    return pi


def pay_with_card(
    sb: StripeSandbox,
    cs: Obj,
    card: Obj,
    customer: Customer,
    ctx: RequestContext,
    return_url: str,
) -> PaymentAttempt:
    """Tokenize the card and confirm the session's PaymentIntent with it."""
    details = {"email": customer.email, "name": customer.name or ""}
    try:
        pm = payment_methods.build_card(sb, card, prefix="card", details=details, metadata={})
    except StripeError as exc:
        return PaymentAttempt(error=exc.message, error_param=_card_field(exc.param))
    pi = ensure_payment_intent(sb, cs, ctx)
    side_of(sb, cs)["customer_details"] = _customer_details(customer)
    confirm_ctx = _with_params(
        ctx, {"payment_method": pm["id"], "return_url": return_url}, {"id": pi["id"]}
    )
    try:
        payment_intents.confirm(sb, confirm_ctx)
    except StripeError as exc:
        return PaymentAttempt(error=_customer_message(exc), error_param="number")
    if pi["status"] == "requires_action":
        next_action = pi["next_action"] or {}
        url = (next_action.get("redirect_to_url") or {}).get("url")
        return PaymentAttempt(redirect_to=url)
    return PaymentAttempt(redirect_to=success_url_for(cs))


def pay_with_bank_debit(
    sb: StripeSandbox, cs: Obj, customer: Customer, ctx: RequestContext
) -> PaymentAttempt:
    """A delayed-notification payment: the PaymentIntent waits in `processing`."""
    pi = ensure_payment_intent(sb, cs, ctx)
    side_of(sb, cs)["customer_details"] = _customer_details(customer)
    payment_intents.start_processing(sb, pi["id"])
    return PaymentAttempt(redirect_to=success_url_for(cs))


def settle_async_payment(sb: StripeSandbox, cs_id: str, succeeded: bool) -> Obj:
    """The bank's later answer to a delayed payment (a sandbox control)."""
    cs = get_session(sb, cs_id)
    pi = _payment_intent_of(sb, cs)
    if cs["status"] != "complete" or cs["payment_status"] != "unpaid" or pi is None:
        raise invalid_request(
            f"Checkout Session {cs_id} has status {cs['status']} and payment_status "
            f"{cs['payment_status']}; only a complete, unpaid session has a delayed payment "
            "to settle.",
        )
    payment_intents.finish_processing(sb, pi["id"], succeeded)
    return cs


def authentication_error(sb: StripeSandbox, cs: Obj) -> str | None:
    """Why the last 3-D Secure attempt on the session's PaymentIntent failed, if it did."""
    pi = _payment_intent_of(sb, cs)
    if pi is None or pi["last_payment_error"] is None:
        return None
    if pi["last_payment_error"].get("code") == "payment_intent_authentication_failure":
        return (
            "We are unable to authenticate your payment method. Please choose a different "
            "payment method and try again."
        )
    message: str | None = pi["last_payment_error"].get("message")
    return message


# --- following the PaymentIntent -----------------------------------------------------------


def attach(sb: StripeSandbox) -> None:
    """Let sessions follow their PaymentIntents' events, after the webhooks see them."""
    downstream = sb.event_listener

    def listener(evt: Obj) -> None:
        if downstream is not None:
            downstream(evt)
        on_event(sb, evt)

    sb.event_listener = listener


def on_event(sb: StripeSandbox, evt: Obj) -> None:
    kind = evt["type"]
    if kind not in (
        "payment_intent.succeeded",
        "payment_intent.processing",
        "payment_intent.payment_failed",
    ):
        return
    pi_id = evt["data"]["object"]["id"]
    cs = next(
        (s for s in sb.stores.checkout_sessions.values() if s["payment_intent"] == pi_id), None
    )
    if cs is None:
        return
    if kind == "payment_intent.succeeded":
        if cs["status"] == "open":
            _complete(sb, cs, paid=True)
        elif cs["status"] == "complete" and cs["payment_status"] == "unpaid":
            cs["payment_status"] = "paid"
            sb.emit("checkout.session.async_payment_succeeded", cs, None)
    elif kind == "payment_intent.processing":
        if cs["status"] == "open":
            _complete(sb, cs, paid=False)
    elif cs["status"] == "complete" and cs["payment_status"] == "unpaid":
        # A declined attempt on an open session only lets the customer try again; a delayed
        # payment failing after completion is what Stripe announces.
        sb.emit("checkout.session.async_payment_failed", cs, None)


def _complete(sb: StripeSandbox, cs: Obj, *, paid: bool) -> None:
    side = side_of(sb, cs)
    cs["status"] = "complete"
    cs["payment_status"] = "paid" if paid else "unpaid"
    cs["url"] = None
    pi = _payment_intent_of(sb, cs)
    details = side["customer_details"] or _customer_details(
        Customer(email=cs["customer_email"] or "", name=None)
    )
    if pi is not None and pi["payment_method"]:
        pm = sb.stores.payment_methods.get(pi["payment_method"])
        if pm is not None and details["name"] is None:
            details["name"] = pm["billing_details"]["name"]
    cs["customer_details"] = details
    sb.emit("checkout.session.completed", cs, None)


# --- the object and its parts ---------------------------------------------------------------


def _session_object(
    *,
    cs_id: str,
    created: int,
    expires_at: int,
    amount: int,
    currency: str,
    success_url: str,
    cancel_url: str | None,
    url: str,
    customer_email: str | None,
    client_reference_id: str | None,
    metadata: dict[str, str],
    payment_method_types: list[str],
    payment_method_configuration: str | None,
    locale: str | None,
    submit_type: str | None,
) -> Obj:
    """Every field of Stripe's `checkout.session` fixture, with the values a plain hosted
    payment session has."""
    return {
        "id": cs_id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": amount,
        "amount_total": amount,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": cancel_url,
        "client_reference_id": client_reference_id,
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": created,
        "currency": currency,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": None,
        "customer_account": None,
        "customer_creation": "if_required",
        "customer_details": None,
        "customer_email": customer_email,
        "discounts": [],
        "expires_at": expires_at,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": {
            "enabled": False,
            "invoice_data": {
                "account_tax_ids": None,
                "custom_fields": None,
                "description": None,
                "footer": None,
                "issuer": None,
                "metadata": {},
                "rendering_options": None,
            },
        },
        "livemode": False,
        "locale": locale,
        "managed_payments": None,
        "metadata": metadata,
        "mode": "payment",
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": (
            {"id": payment_method_configuration, "parent": None}
            if payment_method_configuration
            else None
        ),
        "payment_method_options": {},
        "payment_method_types": payment_method_types,
        "payment_status": "unpaid",
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": submit_type,
        "subscription": None,
        "success_url": success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted_page",
        "url": url,
        "wallet_options": None,
    }


def _line_items(sb: StripeSandbox, params: Params, now: int) -> tuple[list[Obj], str]:
    raw = params.get("line_items")
    if raw is None or raw == "" or raw == []:
        raise parameter_missing("line_items")
    if not isinstance(raw, list):
        raise parameter_invalid("line_items", "Invalid array: line_items")
    if len(raw) > 100:
        raise parameter_invalid(
            "line_items", "You may only specify up to 100 line items in `payment` mode."
        )
    items: list[Obj] = []
    currency: str | None = params.get("currency") or None
    for index, entry in enumerate(raw):
        where = f"line_items[{index}]"
        if not isinstance(entry, dict):
            raise parameter_invalid(where, f"Invalid object: {where}")
        _check_known_nested(entry, LINE_ITEM_PARAMS, where)
        item = _line_item(sb, entry, where, now)
        if currency is None:
            currency = item["currency"]
        elif item["currency"] != currency.lower():
            raise parameter_invalid(
                f"{where}[price_data][currency]",
                "Line items must all have the same currency. Use one currency for every price "
                "in a Checkout Session.",
            )
        items.append(item)
    assert currency is not None
    return items, currency.lower()


def _line_item(sb: StripeSandbox, entry: Obj, where: str, now: int) -> Obj:
    price_id = get_str(entry, "price")
    data = get_dict(entry, "price_data")
    if price_id and data is not None:
        raise parameter_invalid(
            where, "You may only specify one of these parameters: price, price_data."
        )
    if price_id:
        # The sandbox has no Prices API, so no Price id can exist.
        raise resource_missing("price", price_id, f"{where}[price]")
    if data is None:
        raise parameter_invalid(
            where,
            "You must provide either price or price_data for each line item when using prices.",
        )
    prefix = f"{where}[price_data]"
    _check_known_nested(data, PRICE_DATA_PARAMS, prefix)
    if data.get("recurring") not in (None, ""):
        raise parameter_invalid(
            f"{prefix}[recurring]",
            "You specified `payment` mode but passed a recurring price. Either switch to "
            "`subscription` mode or use only one-time prices.",
        )
    try:
        currency = payment_intents._currency(data)
    except StripeError as exc:
        exc.param = f"{prefix}[currency]"
        raise
    unit_amount = _unit_amount(data, prefix)
    product_id = get_str(data, "product")
    product_data = get_dict(data, "product_data")
    if product_id:
        raise resource_missing("product", product_id, f"{prefix}[product]")
    if product_data is None:
        raise parameter_missing(f"{prefix}[product_data]")
    _check_known_nested(product_data, PRODUCT_DATA_PARAMS, f"{prefix}[product_data]")
    name = get_str(product_data, "name")
    if not name:
        raise parameter_missing(f"{prefix}[product_data][name]")
    get_optional_str(product_data, "description", 40000)
    quantity = get_int(entry, "quantity", minimum=1, maximum=999_999)
    if quantity is None:
        raise invalid_request(
            f"Quantity is required. Add `quantity` to `{where}`.",
            code="parameter_missing",
            param=f"{where}[quantity]",
            saved=False,
        )
    tax_behavior = get_enum(data, "tax_behavior", ("exclusive", "inclusive", "unspecified"))
    amount = unit_amount * quantity
    price = {
        "id": sb.new_id("price"),
        "object": "price",
        # Prices made from `price_data` exist only for this session, so Stripe keeps them
        # inactive.
        "active": False,
        "billing_scheme": "per_unit",
        "created": now,
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": sb.new_id("prod"),
        "recurring": None,
        "tax_behavior": tax_behavior or "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }
    return {
        "id": sb.new_id("li"),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": 0,
        "amount_total": amount,
        "currency": currency,
        # Stripe describes a line item by its product's name.
        "description": name,
        "metadata": apply_metadata(entry),
        "price": price,
        "quantity": quantity,
    }


def _unit_amount(data: Obj, prefix: str) -> int:
    amount = get_int(data, "unit_amount", minimum=0)
    decimal = get_str(data, "unit_amount_decimal")
    if amount is not None and decimal is not None:
        raise parameter_invalid(
            prefix,
            "You may only specify one of these parameters: unit_amount, unit_amount_decimal.",
        )
    if amount is not None:
        return amount
    if decimal is None:
        raise parameter_missing(f"{prefix}[unit_amount]")
    whole, dot, fraction = decimal.partition(".")
    if not whole.isdigit() or (dot and fraction.strip("0")):
        raise parameter_invalid(
            f"{prefix}[unit_amount_decimal]",
            "The Stripe sandbox takes whole minor units only in unit_amount_decimal.",
        )
    return int(whole)


def _payment_intent_data(params: Params) -> Params:
    data = get_dict(params, "payment_intent_data")
    if not data:
        return {}
    _check_known_nested(data, PAYMENT_INTENT_DATA_PARAMS, "payment_intent_data")
    prefixed = {f"payment_intent_data[{k}]": v for k, v in data.items()}
    # Validate now, with Stripe's parameter names, what the PaymentIntent will be created with.
    get_optional_str(prefixed, "payment_intent_data[description]", 1000)
    get_optional_str(prefixed, "payment_intent_data[statement_descriptor]", 22)
    get_optional_str(prefixed, "payment_intent_data[statement_descriptor_suffix]", 22)
    get_enum(prefixed, "payment_intent_data[setup_future_usage]", ("off_session", "on_session"))
    capture = get_enum(
        prefixed, "payment_intent_data[capture_method]", ("automatic", "automatic_async", "manual")
    )
    if capture == "manual":
        raise parameter_invalid(
            "payment_intent_data[capture_method]",
            "The Stripe sandbox supports capture_method=automatic and automatic_async only.",
        )
    try:
        apply_metadata(data)
    except StripeError as exc:
        exc.param = f"payment_intent_data[{exc.param}]" if exc.param else exc.param
        raise
    return copy.deepcopy(data)


def _expires_at(params: Params, now: int) -> int:
    expires_at = get_int(params, "expires_at")
    if expires_at is None:
        return now + MAX_LIFETIME_SECONDS
    if expires_at - now < MIN_LIFETIME_SECONDS:
        raise parameter_invalid(
            "expires_at",
            "The `expires_at` timestamp must be at least 30 minutes from Checkout Session "
            "creation.",
        )
    if expires_at - now > MAX_LIFETIME_SECONDS:
        raise parameter_invalid(
            "expires_at",
            "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
        )
    return expires_at


def _url(params: Params, name: str, *, required: bool) -> str | None:
    value = get_str(params, name, required=required)
    if value is None or (value == "" and not required):
        return None
    if len(value) > 5000:
        raise invalid_request(
            "Invalid URL: URL must be 5000 characters or less.", param=name, saved=False
        )
    scheme, _, rest = value.partition("://")
    if scheme not in ("http", "https") or not rest or rest.startswith("/") or " " in value:
        raise invalid_request("Not a valid URL", code="url_invalid", param=name, saved=False)
    return value


def _check_types(types: list[str]) -> None:
    # The same list of method types as PaymentIntents, which the session's PaymentIntent uses.
    payment_intents._check_types(types)


def _check_known_nested(params: Params, allowed: set[str], prefix: str) -> None:
    for name in params:
        if name not in allowed:
            raise invalid_request(
                f"Received unknown parameter: {prefix}[{name}]",
                code="parameter_unknown",
                param=f"{prefix}[{name}]",
                saved=False,
            )


def _looks_like_email(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(local) and bool(at) and "." in domain and " " not in value


def _customer_details(customer: Customer) -> Obj:
    return {
        "address": objects.empty_address(),
        "business_name": None,
        "email": customer.email or None,
        "individual_name": None,
        "name": customer.name or None,
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }


def _payment_intent_of(sb: StripeSandbox, cs: Obj) -> Obj | None:
    pi_id = cs["payment_intent"]
    return sb.stores.payment_intents.get(pi_id) if pi_id else None


def _with_params(
    ctx: RequestContext, params: Params, path_params: dict[str, str]
) -> RequestContext:
    return RequestContext(
        params=params,
        path_params=path_params,
        api_key=ctx.api_key,
        key_kind="secret",
        request_id=ctx.request_id,
        idempotency_key=None,
        base_url=ctx.base_url,
    )


def _card_field(param: str | None) -> str:
    """The page's field for a PaymentMethod parameter such as `card[exp_month]`."""
    if param is None:
        return "number"
    for name, field in (("exp_", "expiry"), ("cvc", "cvc"), ("number", "number")):
        if name in param:
            return field
    return "number"


def _customer_message(exc: StripeError) -> str:
    """What Checkout tells the customer; it never shows the API's developer wording."""
    if exc.type == "card_error":
        return exc.message
    return "Something went wrong processing your payment. Please try again."
