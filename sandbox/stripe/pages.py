"""The HTML pages a browser sees: the bank's 3-D Secure challenge and a receipt."""

from __future__ import annotations

from html import escape
from typing import Any

from . import currencies

Obj = dict[str, Any]

_STYLE = """
body { font-family: system-ui, sans-serif; background: #f6f9fc; margin: 0; }
main { max-width: 420px; margin: 64px auto; background: #fff; border-radius: 8px;
       padding: 32px; box-shadow: 0 2px 8px rgba(0,0,0,.08); }
h1 { font-size: 20px; margin-top: 0; }
.amount { font-size: 28px; font-weight: 600; margin: 16px 0; }
.muted { color: #6b7280; font-size: 14px; }
form { display: flex; gap: 12px; margin-top: 24px; }
button { flex: 1; padding: 12px; border: 0; border-radius: 6px; font-size: 16px; cursor: pointer; }
#complete { background: #635bff; color: #fff; }
#fail { background: #e5e7eb; color: #111827; }
"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def _amount(pi: Obj) -> str:
    currency = pi["currency"]
    return f"{currencies.display(pi['amount'], currency)} {currency.upper()}"


def challenge(pi: Obj) -> str:
    pi_id = escape(pi["id"])
    if pi["status"] != "requires_action":
        return _page(
            "3D Secure",
            f'<h1>No authentication pending</h1><p class="muted">PaymentIntent {pi_id} has '
            f'status <code id="status">{escape(pi["status"])}</code>.</p>',
        )
    return _page(
        "3D Secure 2 Test Page",
        "<h1>3D Secure 2 Test Page</h1>"
        '<p class="muted">Stripe sandbox: the bank asks the cardholder to authenticate.</p>'
        f'<div class="amount" id="amount">{escape(_amount(pi))}</div>'
        f'<p class="muted">PaymentIntent <code>{pi_id}</code></p>'
        f'<form method="post" action="/_sandbox/3ds/{pi_id}">'
        '<button id="complete" name="outcome" value="pass" type="submit">Complete</button>'
        '<button id="fail" name="outcome" value="fail" type="submit">Fail</button>'
        "</form>",
    )


def challenge_done(pi: Obj) -> str:
    return _page(
        "Authentication finished",
        "<h1>Authentication finished</h1>"
        f"<p>PaymentIntent <code>{escape(pi['id'])}</code> is now "
        f'<code id="status">{escape(pi["status"])}</code>.</p>'
        '<p class="muted">You can close this window.</p>',
    )


def receipt(charge: Obj) -> str:
    currency = charge["currency"]
    card = charge["payment_method_details"]["card"]
    return _page(
        "Receipt",
        "<h1>Receipt</h1>"
        f'<div class="amount">{escape(currencies.display(charge["amount"], currency))} '
        f"{escape(currency.upper())}</div>"
        f"<p>{escape(card['brand'].title())} •••• {escape(card['last4'])}</p>"
        f'<p class="muted">Charge <code>{escape(charge["id"])}</code>, status '
        f"{escape(charge['status'])}, refunded {charge['amount_refunded']}</p>",
    )
