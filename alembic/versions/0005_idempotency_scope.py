"""Idempotency-Key scoped per route as well as per caller

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A wider key: every existing row stays unique under it.
    op.create_unique_constraint(
        op.f("uq_idempotency_keys_owner_request_method_request_path_key"),
        "idempotency_keys",
        ["owner", "request_method", "request_path", "key"],
    )
    op.drop_constraint(op.f("uq_idempotency_keys_owner_key"), "idempotency_keys", type_="unique")


def downgrade() -> None:
    # The narrower key cannot hold one key used on two routes: keep the first of each.
    op.execute(
        "DELETE FROM idempotency_keys AS later USING idempotency_keys AS first "
        "WHERE later.owner = first.owner AND later.key = first.key AND later.id > first.id"
    )
    op.create_unique_constraint(
        op.f("uq_idempotency_keys_owner_key"), "idempotency_keys", ["owner", "key"]
    )
    op.drop_constraint(
        op.f("uq_idempotency_keys_owner_request_method_request_path_key"),
        "idempotency_keys",
        type_="unique",
    )
