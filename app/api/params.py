"""Path and query parameters, one rule for each kind of id: ours, or refused before any
query runs (a NUL, a surrogate or 5,000 characters never reach PostgreSQL)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from app.schemas.types import OrderId, id_pattern

PaymentIdPath = Annotated[
    str, Path(pattern=id_pattern("pay"), description="a payment id, `pay_...`")
]
RefundIdPath = Annotated[str, Path(pattern=id_pattern("rf"), description="a refund id, `rf_...`")]
EventIdPath = Annotated[str, Path(pattern=id_pattern("evt"), description="an event id, `evt_...`")]

PaymentIdQuery = Annotated[str | None, Query(pattern=id_pattern("pay"))]
OrderIdQuery = Annotated[OrderId | None, Query()]
Limit = Annotated[int, Query(ge=1, le=100)]
PaymentCursor = Annotated[
    str | None,
    Query(pattern=id_pattern("pay"), description="the `next_cursor` of the page before"),
]
EventCursor = Annotated[
    str | None,
    Query(pattern=id_pattern("evt"), description="the `next_cursor` of the page before"),
]
