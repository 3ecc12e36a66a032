"""A merchant's site for the browser tests: one page under a strict CSP that loads the Stripe
sandbox's Stripe.js and the compiled integration, plus the success and cancel pages that
hosted Checkout sends customers back to."""

from __future__ import annotations

from html import escape
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

SHOP_CSS = """
body { font: 16px/1.45 system-ui, sans-serif; margin: 0; background: #f6f8fa; color: #1a1f36; }
.shop { max-width: 480px; margin: 16px; padding: 20px; background: #fff;
        border: 1px solid #d5dbe1; border-radius: 10px; }
@media (min-width: 520px) { .shop { margin: 32px auto; padding: 24px; } }
h1 { font-size: 22px; margin: 0 0 16px; }
label { display: block; font-size: 14px; margin-bottom: 4px; }
#name { width: 100%; box-sizing: border-box; padding: 10px 12px; font: inherit;
        border: 1px solid #d5dbe1; border-radius: 6px; margin-bottom: 16px; }
#payment-element { margin-bottom: 12px; }
#submit { width: 100%; padding: 12px; font: inherit; font-weight: 600; color: #fff;
          background: #5046e5; border: 0; border-radius: 6px; cursor: pointer; }
#submit:disabled { opacity: .6; }
#message[data-kind="error"] { color: #c0123c; }
#message[data-kind="success"] { color: #0e6245; }
.muted { color: #5c6478; font-size: 14px; }
code { overflow-wrap: anywhere; }
"""


def csp(sandbox_url: str) -> str:
    """The policy the brief requires the stand-in to live with: no 'unsafe-inline' anywhere."""
    return (
        f"script-src 'self' {sandbox_url}; connect-src 'self' {sandbox_url}; "
        f"frame-src {sandbox_url}; style-src 'self' {sandbox_url}; img-src 'self' data:"
    )


def create_shop(sandbox_url: str, publishable_key: str, integration_js: Path) -> Starlette:
    headers = {"Content-Security-Policy": csp(sandbox_url), "Cache-Control": "no-store"}

    def page(title: str, body: str, *, scripts: bool) -> HTMLResponse:
        head_scripts = (
            f'<script src="{escape(sandbox_url)}/v3/"></script>'
            '<script type="module" src="/integration.js"></script>'
            if scripts
            else ""
        )
        return HTMLResponse(
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{escape(title)}</title><link rel="icon" href="data:,">'
            f'<meta name="stripe-publishable-key" content="{escape(publishable_key)}">'
            f'<link rel="stylesheet" href="/shop.css">{head_scripts}</head>'
            f'<body><main class="shop">{body}</main></body></html>',
            headers=headers,
        )

    app_body = (
        "<h1>Sandbox shop</h1>"
        '<section id="checkout" hidden><p>Order total: <strong id="amount"></strong></p>'
        '<form id="payment-form"><label for="name">Name</label>'
        '<input id="name" autocomplete="name" value="Ada Lovelace">'
        '<div id="payment-element"></div>'
        '<p class="muted">Card details: <span id="element-state">empty</span></p>'
        '<button id="submit" type="submit">Pay</button></form></section>'
        '<p id="message" role="status"></p>'
        '<section id="result" hidden><h2 id="result-title"></h2>'
        '<p class="muted" id="result-detail"></p></section>'
        '<p class="muted">Redirect status: <span id="redirect-status">none</span></p>'
    )

    async def integration(request: Request) -> HTMLResponse:
        return page("Sandbox shop", app_body, scripts=True)

    async def success(request: Request) -> HTMLResponse:
        session_id = request.query_params.get("session_id", "")
        return page(
            "Thank you",
            '<h1 id="landed">Thanks for your order</h1>'
            f'<p class="muted">Checkout Session <code id="session-id">{escape(session_id)}'
            "</code></p>",
            scripts=False,
        )

    async def cancel(request: Request) -> HTMLResponse:
        return page(
            "Order not paid",
            '<h1 id="landed">Your order was not paid</h1>'
            '<p class="muted">You came back from Checkout without paying.</p>',
            scripts=False,
        )

    async def script(request: Request) -> Response:
        return Response(integration_js.read_bytes(), media_type="text/javascript")

    async def stylesheet(request: Request) -> Response:
        return Response(SHOP_CSS, media_type="text/css")

    return Starlette(
        routes=[
            Route("/checkout", integration),
            Route("/return", integration),
            Route("/next-action", integration),
            Route("/success", success),
            Route("/cancel", cancel),
            Route("/integration.js", script),
            Route("/shop.css", stylesheet),
        ]
    )
