"""The hosted Checkout page at a session's `url`, and the sandbox controls for sessions.

Plain HTML forms and one stylesheet, no script: the page works under a CSP without
'unsafe-inline', with the keyboard alone and at a phone's width. Paying posts the form back
here; a card that needs 3-D Secure goes through the sandbox's challenge page
(`/_sandbox/3ds/{pi}`) and comes back to `/c/pay/{id}/return`, as Stripe's redirect does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from . import checkout, currencies
from .errors import StripeError, invalid_request
from .forms import parse_form
from .state import RequestContext, StripeSandbox

Obj = dict[str, Any]

STYLESHEET = Path(__file__).parent / "stripe_js" / "checkout.css"
STYLESHEET_PATH = "/c/assets/checkout.css"

# `form-action` is left out on purpose: Chrome applies it to the redirects after a form post,
# and those go to the merchant's success_url and to the bank's page.
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

MERCHANT = "Stripe sandbox"
TEST_CARDS = (
    ("4242 4242 4242 4242", "succeeds"),
    ("4000 0000 0000 0002", "is declined"),
    ("4000 0000 0000 9995", "is declined: insufficient funds"),
    ("4000 0025 0000 3155", "asks for 3-D Secure"),
)


@dataclass(frozen=True)
class FormState:
    """What the customer typed, echoed back after an error (never the card number or CVC)."""

    email: str = ""
    name: str = ""
    expiry: str = ""
    error: str | None = None
    error_field: str | None = None


# --- rendering -------------------------------------------------------------------------------


def money(amount: int, currency: str) -> str:
    """`$20.00`, `€5.00`, `CHF 20.00`: a symbol where there is one, else the code."""
    shown = currencies.display(amount, currency)
    return shown if not shown[:1].isdigit() else f"{currency.upper()} {shown}"


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(title)}</title><link rel="icon" href="data:,">'
        f'<link rel="stylesheet" href="{STYLESHEET_PATH}">'
        f'</head><body class="checkout">{body}</body></html>'
    )


def _header(cs: Obj) -> str:
    cancel_url = cs["cancel_url"]
    back = (
        f'<a class="back" id="cancel" href="{escape(cancel_url)}">'
        f'<span aria-hidden="true">&larr;</span> Back<span class="visually-hidden"> to '
        f"{escape(MERCHANT)}</span></a>"
        if cancel_url
        else ""
    )
    return (
        f'<header class="merchant">{back}<span class="merchant-name">{escape(MERCHANT)}</span>'
        '<span class="badge">Test mode</span></header>'
    )


def _summary(sb: StripeSandbox, cs: Obj) -> str:
    currency = cs["currency"]
    rows = []
    for item in checkout.line_items_of(sb, cs):
        quantity = item["quantity"]
        unit = item["price"]["unit_amount"]
        each = (
            f'<span class="item-unit">{escape(money(unit, currency))} each</span>'
            if quantity > 1
            else ""
        )
        rows.append(
            '<li class="item"><div class="item-main">'
            f'<span class="item-name">{escape(item["description"])}</span>'
            f'<span class="item-qty">Qty {quantity}</span></div>'
            f'<div class="item-price"><span class="item-total">'
            f"{escape(money(item['amount_total'], currency))}</span>{each}</div></li>"
        )
    total = escape(money(cs["amount_total"], currency))
    subtotal = escape(money(cs["amount_subtotal"], currency))
    return (
        '<section class="summary" aria-labelledby="summary-title">'
        f'<h1 class="summary-title" id="summary-title">Pay {escape(MERCHANT)}</h1>'
        f'<p class="total-amount" id="total-amount">{total}</p>'
        f'<ul class="items" aria-label="Order items">{"".join(rows)}</ul>'
        '<dl class="totals">'
        f'<div class="totals-row"><dt>Subtotal</dt><dd id="subtotal">{subtotal}</dd></div>'
        f'<div class="totals-row total-due"><dt>Total due</dt><dd id="total">{total}</dd></div>'
        "</dl></section>"
    )


def _field(
    name: str,
    label: str,
    form: FormState,
    *,
    value: str = "",
    attrs: str = "",
    hint: str | None = None,
) -> str:
    invalid = form.error_field == name
    described = " ".join(
        part
        for part in (f"{name}-hint" if hint else "", "payment-error" if invalid else "")
        if part
    )
    extra = f' aria-describedby="{described}"' if described else ""
    if invalid:
        extra += ' aria-invalid="true" autofocus'
    hint_html = f'<span class="hint" id="{name}-hint">{escape(hint)}</span>' if hint else ""
    return (
        f'<div class="field field-{name}"><label for="{name}">{escape(label)}</label>'
        f'{hint_html}<input id="{name}" name="{name}" value="{escape(value)}"{attrs}{extra}>'
        "</div>"
    )


def _payment_form(sb: StripeSandbox, cs: Obj, form: FormState) -> str:
    total = escape(money(cs["amount_total"], cs["currency"]))
    verb = {"book": "Book", "donate": "Donate"}.get(cs["submit_type"] or "", "Pay")
    email = form.email or cs["customer_email"] or ""
    email_attrs = ' type="email" autocomplete="email" required spellcheck="false"'
    if cs["customer_email"]:
        # Checkout shows a prefilled customer_email but does not let the customer change it.
        email_attrs += " readonly"
    error = (
        f'<p class="error" id="payment-error" role="alert">{escape(form.error)}</p>'
        if form.error
        else ""
    )
    # The message stands next to what it is about: the email, or the payment method.
    error_on_top = form.error_field == "email" or not checkout.offers_card(cs)
    parts = [
        f'<form class="pay-form" method="post" action="/c/pay/{escape(cs["id"])}">',
        error if error_on_top else "",
        '<h2 class="section-title">Contact information</h2>',
        _field("email", "Email", form, value=email, attrs=email_attrs),
    ]
    if checkout.offers_card(cs):
        parts += [
            '<h2 class="section-title">Payment method</h2>',
            "" if error_on_top else error,
            '<fieldset class="card"><legend>Card information</legend>',
            _field(
                "number",
                "Card number",
                form,
                attrs=' inputmode="numeric" autocomplete="cc-number" required '
                'pattern="[0-9 \\-]{12,23}" maxlength="23" placeholder="1234 1234 1234 1234"'
                ' spellcheck="false"',
            ),
            '<div class="field-row">',
            _field(
                "expiry",
                "Expiration",
                form,
                value=form.expiry,
                hint="MM / YY",
                attrs=' inputmode="numeric" autocomplete="cc-exp" required maxlength="9" '
                'pattern="\\s*[0-9]{1,2}\\s*/\\s*([0-9]{2}|[0-9]{4})\\s*" placeholder="MM / YY"',
            ),
            _field(
                "cvc",
                "CVC",
                form,
                hint="3 or 4 digits",
                attrs=' inputmode="numeric" autocomplete="cc-csc" required maxlength="4" '
                'pattern="[0-9]{3,4}" placeholder="CVC"',
            ),
            "</div>",
            _field(
                "name",
                "Name on card",
                form,
                value=form.name,
                attrs=' autocomplete="cc-name" required maxlength="200"',
            ),
            "</fieldset>",
            '<button class="pay" id="submit" type="submit" name="method" value="card">'
            f'<span class="pay-label">{verb}</span> <span class="pay-amount">{total}</span>'
            "</button>",
        ]
    if checkout.offers_bank_debit(sb, cs):
        # `formnovalidate`: the card fields above are required for a card payment only.
        parts += [
            '<div class="divider" role="presentation"><span>or</span></div>',
            '<section class="bank" aria-labelledby="bank-title">',
            '<h2 class="section-title" id="bank-title">Bank debit (test)</h2>',
            '<p class="muted" id="bank-note">The bank confirms a debit later. The session '
            "completes unpaid until the sandbox control <code>async_payment_succeed</code> or "
            "<code>async_payment_fail</code> settles it.</p>",
            '<button class="secondary" id="bank-debit" type="submit" name="method" '
            'value="bank_debit" formnovalidate aria-describedby="bank-note">'
            f"{verb} {total} by bank debit</button>",
            "</section>",
        ]
    if not checkout.offers_card(cs) and not checkout.offers_bank_debit(sb, cs):
        parts.append(
            '<p class="error" role="alert">The Stripe sandbox can pay this session\'s '
            f"payment methods ({escape(', '.join(cs['payment_method_types']))}) with cards "
            "and bank debits only.</p>"
        )
    parts.append("</form>")
    return "".join(parts)


def _test_cards() -> str:
    rows = "".join(
        f"<li><code>{escape(number)}</code> {escape(outcome)}</li>"
        for number, outcome in TEST_CARDS
    )
    return (
        '<details class="test-cards"><summary>Test cards</summary>'
        f"<ul>{rows}</ul><p>Any future expiry date and any 3-digit CVC.</p></details>"
    )


def checkout_page(sb: StripeSandbox, cs: Obj, form: FormState | None = None) -> str:
    form = form or FormState()
    body = (
        f'<div class="layout">{_header(cs)}{_summary(sb, cs)}'
        '<main class="payment" aria-labelledby="payment-title">'
        '<h2 class="visually-hidden" id="payment-title">Payment details</h2>'
        f"{_payment_form(sb, cs, form)}{_test_cards()}</main>"
        '<footer class="footer">Powered by the offline Stripe sandbox &middot; no real '
        "money moves</footer></div>"
    )
    return _document(f"{MERCHANT} - Checkout", body)


def closed_page(cs: Obj) -> str:
    """A session that can no longer be paid: expired, or already completed."""
    if cs["status"] == "expired":
        title = "This checkout session has expired"
        text = "The time to pay has run out. Return to the shop to start again."
        link_url = cs["cancel_url"]
        link_text = f"Return to {MERCHANT}"
    else:
        title = "Payment complete"
        text = (
            "Thanks for your payment."
            if cs["payment_status"] == "paid"
            else "Your payment is being processed; you will be told when it settles."
        )
        link_url = checkout.success_url_for(cs)
        link_text = "Continue"
    link = (
        f'<p><a class="button-link" id="continue" href="{escape(link_url)}">'
        f"{escape(link_text)}</a></p>"
        if link_url
        else ""
    )
    body = (
        '<div class="layout layout-single">'
        f'<header class="merchant"><span class="merchant-name">{escape(MERCHANT)}</span>'
        '<span class="badge">Test mode</span></header>'
        f'<main class="notice"><h1 id="status-title">{escape(title)}</h1>'
        f'<p class="muted" id="status-text">{escape(text)}</p>{link}</main></div>'
    )
    return _document(title, body)


# --- reading the form ------------------------------------------------------------------------


def _parse_expiry(raw: str) -> tuple[str, str] | None:
    month, slash, year = raw.replace(" ", "").partition("/")
    if not slash or not month.isdigit() or not year.isdigit() or len(year) not in (2, 4):
        return None
    return month, year


def _card_input(form: dict[str, Any]) -> tuple[Obj | None, FormState]:
    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    state = FormState(email=text("email"), name=text("name"), expiry=text("expiry"))
    number = text("number").replace(" ", "").replace("-", "")
    expiry = _parse_expiry(state.expiry)
    cvc = text("cvc")
    problems = (
        (not checkout_email_ok(state.email), "email", "Your email address is incomplete."),
        (not number, "number", "Your card number is incomplete."),
        (expiry is None, "expiry", "Your card's expiration date is incomplete."),
        (not cvc, "cvc", "Your card's security code is incomplete."),
        (not state.name, "name", "Your name on the card is incomplete."),
    )
    for failed, field, message in problems:
        if failed:
            return None, _with_error(state, message, field)
    assert expiry is not None
    month, year = expiry
    return {"number": number, "exp_month": month, "exp_year": year, "cvc": cvc}, state


def checkout_email_ok(email: str) -> bool:
    local, at, domain = email.partition("@")
    return bool(local and at and "." in domain)


def _with_error(state: FormState, message: str, field: str | None) -> FormState:
    return FormState(
        email=state.email, name=state.name, expiry=state.expiry, error=message, error_field=field
    )


# --- routes ----------------------------------------------------------------------------------


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


def _page_context(sb: StripeSandbox, request: Request) -> RequestContext:
    """A customer's action on the page acts with the account's key, as Checkout does."""
    return RequestContext(
        params={},
        path_params={},
        api_key=sb.config.secret_key,
        key_kind="secret",
        request_id=f"req_{sb.token(14)}",
        idempotency_key=None,
        base_url=str(request.base_url),
    )


def routes(sb: StripeSandbox) -> list[BaseRoute]:
    def session_or_404(cs_id: str) -> Obj | None:
        try:
            return checkout.get_session(sb, cs_id)
        except StripeError:
            return None

    def not_found() -> HTMLResponse:
        body = (
            '<div class="layout layout-single"><main class="notice">'
            '<h1 id="status-title">Something went wrong</h1><p class="muted">'
            "The page you were looking for could not be found.</p></main></div>"
        )
        return _html(_document("Not found", body), 404)

    async def page(request: Request) -> Response:
        cs = session_or_404(request.path_params["id"])
        if cs is None:
            return not_found()
        if request.method == "GET":
            return _html(checkout_page(sb, cs) if cs["status"] == "open" else closed_page(cs))
        form = parse_form(await request.body())
        if cs["status"] == "complete":
            # A second submit of a form that already paid: send the customer on, charge nothing.
            return RedirectResponse(checkout.success_url_for(cs), status_code=303)
        if cs["status"] != "open":
            return _html(closed_page(cs))
        ctx = _page_context(sb, request)
        try:
            return submit(cs, form, ctx)
        except StripeError:
            # The session's PaymentIntent refused a change the page made (the merchant may
            # have changed it through the API). Checkout shows the customer a generic failure.
            state = FormState(
                error="Something went wrong processing your payment. Please try again."
            )
            return _html(checkout_page(sb, cs, state))

    def submit(cs: Obj, form: dict[str, Any], ctx: RequestContext) -> Response:
        if form.get("method") == "bank_debit" and checkout.offers_bank_debit(sb, cs):
            email = str(form.get("email") or cs["customer_email"] or "").strip()
            if not checkout_email_ok(email):
                state = FormState(email=email, name=str(form.get("name") or ""))
                return _html(
                    checkout_page(
                        sb, cs, _with_error(state, "Your email address is incomplete.", "email")
                    )
                )
            attempt = checkout.pay_with_bank_debit(
                sb,
                cs,
                checkout.Customer(email=email, name=str(form.get("name") or "") or None),
                ctx,
            )
        else:
            if cs["customer_email"]:
                form["email"] = cs["customer_email"]
            card, state = _card_input(form)
            if card is None:
                return _html(checkout_page(sb, cs, state))
            return_url = f"{checkout.public_base(sb, ctx.base_url)}/c/pay/{cs['id']}/return"
            attempt = checkout.pay_with_card(
                sb, cs, card, checkout.Customer(email=state.email, name=state.name), ctx, return_url
            )
            if attempt.error is not None:
                return _html(
                    checkout_page(sb, cs, _with_error(state, attempt.error, attempt.error_param))
                )
        assert attempt.redirect_to is not None
        return RedirectResponse(attempt.redirect_to, status_code=303)

    async def returned(request: Request) -> Response:
        """Back from the bank's 3-D Secure page."""
        cs = session_or_404(request.path_params["id"])
        if cs is None:
            return not_found()
        if cs["status"] == "complete":
            return RedirectResponse(checkout.success_url_for(cs), status_code=303)
        if cs["status"] != "open":
            return _html(closed_page(cs))
        message = checkout.authentication_error(sb, cs) or (
            "Your payment was not completed. Please try again."
        )
        return _html(checkout_page(sb, cs, FormState(error=message, error_field="number")))

    async def stylesheet(request: Request) -> Response:
        return Response(
            STYLESHEET.read_bytes(),
            media_type="text/css",
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    def control(action: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            cs_id = request.path_params["id"]
            try:
                if action == "expire_now":
                    cs = checkout.get_session(sb, cs_id)
                    if cs["status"] != "open":
                        raise invalid_request(
                            f"Checkout Session {cs_id} has status {cs['status']}; only an open "
                            "session can expire."
                        )
                    checkout.expire_session(sb, cs, None)
                else:
                    cs = checkout.settle_async_payment(
                        sb, cs_id, succeeded=action == "async_payment_succeed"
                    )
            except StripeError as exc:
                return JSONResponse(exc.body(), status_code=exc.status)
            return JSONResponse(cs)

        return endpoint

    return [
        Route("/c/pay/{id}", page, methods=["GET", "POST"]),
        Route("/c/pay/{id}/return", returned, methods=["GET"]),
        Route(STYLESHEET_PATH, stylesheet, methods=["GET"]),
        *(
            Route(f"/_sandbox/checkout/sessions/{{id}}/{action}", control(action), methods=["POST"])
            for action in ("async_payment_succeed", "async_payment_fail", "expire_now")
        ),
    ]
