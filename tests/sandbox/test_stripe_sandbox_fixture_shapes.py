"""Every field of Stripe's fixture objects exists in the sandbox's objects, with the same type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from sandbox.testing import StripeSandboxControl

FIXTURES = json.loads((Path(__file__).parent / "data" / "stripe_fixtures.json").read_text())[
    "resources"
]

# An event's data.object is whatever object the event is about; the fixture's is a plan.
# Metadata keys are the caller's own data, so only `metadata` itself is compared.
NOT_COMPARED = {("event", "data.object")}


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def shape_mismatches(
    kind: str, fixture: dict[str, Any], ours: dict[str, Any], path: str = "", depth: int = 3
) -> list[str]:
    problems: list[str] = []
    for key, expected in fixture.items():
        where = f"{path}{key}"
        if (kind, where) in NOT_COMPARED:
            continue
        if key not in ours:
            problems.append(f"{kind}.{where} is missing")
            continue
        actual = ours[key]
        if expected is None or actual is None:
            continue
        if json_type(expected) != json_type(actual):
            problems.append(
                f"{kind}.{where}: fixture has {json_type(expected)}, sandbox {json_type(actual)}"
            )
        elif isinstance(expected, dict) and depth > 1 and key != "metadata":
            problems += shape_mismatches(kind, expected, actual, f"{where}.", depth - 1)
        elif (
            isinstance(expected, list)
            and expected
            and actual
            and json_type(expected[0]) != json_type(actual[0])
        ):
            problems.append(f"{kind}.{where}[]: item types differ")
    return problems


async def sandbox_objects(
    client: stripe.StripeClient, sandbox: StripeSandboxControl
) -> dict[str, dict[str, Any]]:
    pi = await client.v1.payment_intents.create_async(
        {
            "amount": 1099,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "return_url": "https://shop.example/return",
        }
    )
    refund = await client.v1.refunds.create_async({"payment_intent": pi.id, "amount": 100})
    auth = {"Authorization": f"Bearer {sandbox.secret_key}"}
    async with httpx.AsyncClient(base_url=sandbox.url, headers=auth) as http:

        async def raw(path: str) -> dict[str, Any]:
            response = await http.get(path)
            assert response.status_code == 200, response.text
            return dict(response.json())

        events = await raw("/v1/events?type=payment_intent.succeeded")
        return {
            "payment_intent": await raw(f"/v1/payment_intents/{pi.id}"),
            "charge": await raw(f"/v1/charges/{pi.latest_charge}"),
            "payment_method": await raw(f"/v1/payment_methods/{pi.payment_method}"),
            "refund": await raw(f"/v1/refunds/{refund.id}"),
            "event": events["data"][0],
        }


@pytest.mark.asyncio
async def test_sandbox_objects_have_every_fixture_field_with_its_type(
    client: stripe.StripeClient, sandbox: StripeSandboxControl
) -> None:
    ours = await sandbox_objects(client, sandbox)
    served = set(ours)
    assert served <= set(FIXTURES)
    problems = [
        problem
        for kind in sorted(served)
        for problem in shape_mismatches(kind, FIXTURES[kind], ours[kind])
    ]
    assert problems == []


def test_the_comparison_notices_a_missing_or_mistyped_field() -> None:
    fixture = {"a": 1, "b": {"c": "x"}, "d": None}
    assert shape_mismatches("t", fixture, {"a": 1, "b": {"c": "y"}, "d": 5}) == []
    assert shape_mismatches("t", fixture, {"a": "1", "b": {}, "d": None}) == [
        "t.a: fixture has number, sandbox str",
        "t.b.c is missing",
    ]
