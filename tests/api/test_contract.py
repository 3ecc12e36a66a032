"""The API surface: authentication everywhere it is due, problem+json for bad input,
and the checked-in OpenAPI document."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.ids import new_id
from app.core.settings import Settings
from app.main import create_app

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "contract" / "openapi.json"
PUBLIC_PREFIXES = ("/v1/public/", "/v1/webhooks/")


def internal_operations() -> list[tuple[str, str]]:
    document = json.loads(CONTRACT.read_text())
    operations = []
    for path, methods in document["paths"].items():
        if not path.startswith("/v1/") or path.startswith(PUBLIC_PREFIXES):
            continue
        for method in methods:
            operations.append((method.upper(), re.sub(r"\{[^}]+\}", "pay_unknown", path)))
    return operations


class TestOpenApiContract:
    def test_served_document_matches_the_checked_in_contract(self, settings: Settings) -> None:
        served = create_app(settings).openapi()
        assert json.loads(json.dumps(served)) == json.loads(CONTRACT.read_text()), (
            "the API changed: run `make openapi` and commit contract/openapi.json"
        )

    def test_operation_ids_are_stable_names(self) -> None:
        document = json.loads(CONTRACT.read_text())
        ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
        assert len(ids) == len(set(ids))
        assert "create_payment" in ids

    def test_every_route_lists_its_problems(self) -> None:
        document = json.loads(CONTRACT.read_text())
        for path, methods in document["paths"].items():
            for method, operation in methods.items():
                takes_input = operation.get("parameters") or operation.get("requestBody")
                if path.startswith("/v1/") and takes_input:
                    assert "422" in operation["responses"], (method, path)


class TestAuthentication:
    OPERATIONS = internal_operations()

    def test_the_contract_has_internal_routes(self) -> None:
        assert len(self.OPERATIONS) >= 6

    @pytest.mark.parametrize(("method", "path"), OPERATIONS)
    @pytest.mark.parametrize(
        "authorization", [None, "Bearer wrong-key", "Basic dXNlcjpwYXNz", "Bearer"]
    )
    async def test_missing_or_wrong_key_is_401(
        self, api: httpx.AsyncClient, method: str, path: str, authorization: str | None
    ) -> None:
        headers = {} if authorization is None else {"Authorization": authorization}
        async with httpx.AsyncClient(base_url=str(api.base_url)) as anonymous:
            response = await anonymous.request(method, path, headers=headers, json={})
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "unauthorized"


async def payment_count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT count(*) FROM payments"))).scalar_one())


async def sandbox_intents(sandbox_admin: httpx.AsyncClient) -> int:
    stats = (await sandbox_admin.get("/_sandbox/stats")).json()
    return int(stats["objects"]["payment_intents"])


VALID: dict[str, Any] = {"order_id": "bad-input", "amount": 1000, "currency": "USD"}


class TestBadInput:
    @pytest.mark.parametrize(
        ("change", "code"),
        [
            ({"amount": -100}, "validation_error"),
            ({"amount": 0}, "validation_error"),
            ({"amount": 10.5}, "validation_error"),
            ({"amount": 10.0}, "validation_error"),
            ({"amount": "1000"}, "validation_error"),
            ({"amount": 10**16}, "validation_error"),
            ({"amount": 100_000_000_000}, "amount_above_maximum"),
            ({"amount": 49}, "amount_below_minimum"),
            ({"amount": 1, "currency": "GBP"}, "amount_below_minimum"),
            ({"amount": 550, "currency": "MGA"}, "amount_not_representable"),
            ({"amount": 1005, "currency": "KWD"}, "amount_not_representable"),
            ({"amount": 5, "currency": "BHD"}, "amount_not_representable"),
            ({"currency": "IRR"}, "currency_not_supported"),
            ({"currency": "XYZ"}, "validation_error"),
            ({"currency": "usdd"}, "validation_error"),
            ({"currency": "u\u017fd"}, "validation_error"),
            ({"currency": "\u0131dr"}, "validation_error"),
            ({"payment_channel": "paypal"}, "unknown_payment_channel"),
            ({"payment_channel": "stripe:klarna"}, "unknown_payment_channel"),
            ({"payment_channel": "pingxx:alipay_qr", "currency": "USD"}, "currency_not_supported"),
            ({"metadata": {"k": 1}}, "validation_error"),
            ({"metadata": {"k": {"nested": "x"}}}, "validation_error"),
            ({"metadata": ["a"]}, "validation_error"),
            ({"order_id": ""}, "validation_error"),
            ({"customer_email": "not-an-email"}, "validation_error"),
            ({"unknown_field": True}, "validation_error"),
        ],
    )
    async def test_refused_with_a_problem_and_nothing_stored(
        self,
        api: httpx.AsyncClient,
        db: AsyncEngine,
        sandbox_admin: httpx.AsyncClient,
        change: dict[str, Any],
        code: str,
    ) -> None:
        before = await sandbox_intents(sandbox_admin)
        response = await api.post("/v1/payments", json={**VALID, **change})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["code"] == code
        assert problem["status"] == 422
        assert {"type", "title", "detail", "retryable"} <= problem.keys()
        assert await payment_count(db) == 0
        assert await sandbox_intents(sandbox_admin) == before

    async def test_a_ten_megabyte_body_is_413(
        self, api: httpx.AsyncClient, db: AsyncEngine
    ) -> None:
        body = json.dumps({**VALID, "description": "x" * 10_000_000})
        response = await api.post(
            "/v1/payments", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert response.json()["code"] == "request_too_large"
        assert await payment_count(db) == 0

    async def test_a_chunked_oversized_body_is_413(
        self, api: httpx.AsyncClient, db: AsyncEngine
    ) -> None:
        async def chunks():  # type: ignore[no-untyped-def]
            yield b'{"order_id": "x", "amount": 1, "currency": "USD", "description": "'
            for _ in range(40):
                yield b"x" * 65536
            yield b'"}'

        response = await api.post(
            "/v1/payments", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert await payment_count(db) == 0

    async def test_not_json(self, api: httpx.AsyncClient) -> None:
        response = await api.post(
            "/v1/payments", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422
        assert response.json()["code"] == "validation_error"

    async def test_unknown_payment_is_404_problem(self, api: httpx.AsyncClient) -> None:
        response = await api.get(f"/v1/payments/{new_id('pay')}")
        assert response.status_code == 404
        assert response.json()["code"] == "payment_not_found"

    async def test_a_malformed_id_is_422_before_any_query(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/v1/payments/pay_doesnotexist")
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["path", "payment_id"]

    async def test_unknown_route_is_a_problem_too(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/v1/nothing-here")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
