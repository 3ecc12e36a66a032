"""The Stripe.js stand-in as files served over HTTP: where it lives, its frames' policy, and what
its code must never do to run under a page CSP without 'unsafe-inline'. The browser tests in
`browser/` run it for real."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import stripe

from sandbox.stripe import stripe_js
from sandbox.testing import StripeSandboxControl

ASSET_DIR = Path(stripe_js.__file__).parent
SCRIPTS = sorted(name for name in stripe_js.ASSETS if name.endswith(".js"))
FRAMES = sorted(name for name in stripe_js.ASSETS if name.endswith(".html"))


@pytest.mark.parametrize("path", ["/v3", "/v3/"])
def test_the_script_is_served_at_v3(sandbox: StripeSandboxControl, path: str) -> None:
    response = httpx.get(f"{sandbox.url}{path}", follow_redirects=False)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "window.Stripe = Stripe" in response.text


@pytest.mark.parametrize("name", FRAMES)
def test_frames_carry_their_own_strict_policy_and_no_inline_code(
    sandbox: StripeSandboxControl, name: str
) -> None:
    response = httpx.get(f"{sandbox.url}/v3/{name}")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    html = response.text
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None
    assert "<style" not in html
    assert re.search(r"\sstyle=", html) is None
    assert re.search(r"\son[a-z]+=", html) is None
    for referenced in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert referenced in stripe_js.ASSETS, referenced


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_code_never_needs_unsafe_inline_or_eval(name: str) -> None:
    source = (ASSET_DIR / name).read_text()
    forbidden = {
        "eval(": "eval",
        "new Function": "Function()",
        "innerHTML": "markup strings",
        "insertAdjacentHTML": "markup strings",
        "document.write": "document.write",
        'setAttribute("style"': "style attributes",
        'createElement("style")': "injected <style>",
        'setTimeout("': "string timers",
    }
    found = [what for needle, what in forbidden.items() if needle in source]
    assert found == []


@pytest.mark.parametrize(
    "path", ["/v3/nope.js", "/v3/..%2F__init__.py", "/v3/checkout.css", "/v3/__init__.py"]
)
def test_only_the_listed_assets_are_served(sandbox: StripeSandboxControl, path: str) -> None:
    assert httpx.get(f"{sandbox.url}{path}").status_code == 404


async def test_a_decline_is_readable_cross_origin(
    client: stripe.StripeClient, sandbox: StripeSandboxControl
) -> None:
    # Stripe.js confirms from the merchant's origin with a form post (no preflight); the 402
    # must carry CORS headers or the page could not read why the card was declined.
    intent = await client.v1.payment_intents.create_async(
        {"amount": 1000, "currency": "usd", "payment_method_types": ["card"]}
    )
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        response = await http.post(
            f"/v1/payment_intents/{intent.id}/confirm",
            data={
                "key": sandbox.publishable_key,
                "client_secret": intent.client_secret,
                "payment_method": "pm_card_visa_chargeDeclined",
            },
            headers={"Origin": "http://127.0.0.1:9"},
        )
    assert response.status_code == 402
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json()["error"]["payment_intent"]["id"] == intent.id
