"""Start-up configuration of the Stripe sandbox and the part of it tests change at runtime."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_API_VERSION = "2026-10-28.endive"


@dataclass
class StripeSandboxConfig:
    secret_key: str = "sk_test_sandbox"
    publishable_key: str = "pk_test_sandbox"
    # (url, signing secret) pairs registered before the first request; the secret is the
    # `whsec_...` value the receiving service verifies signatures with.
    webhook_endpoints: list[tuple[str, str]] = field(default_factory=list)
    webhook_retry_base_seconds: float = 2.0
    webhook_retry_max_delay_seconds: float = 60.0
    webhook_max_attempts: int = 6
    webhook_timeout_seconds: float = 10.0
    latency_ms: int = 0
    failure_rate: float = 0.0
    failure_status: int = 500
    webhook_drop_rate: float = 0.0
    lose_response_next: int = 0
    refunds_pending: bool = False
    # Test card 4000000000005126: the refund succeeds, then turns `failed` this much later.
    refund_failure_delay_seconds: float = 1.0
    enforce_minimum_amounts: bool = True
    seed: int | None = None
    public_url: str | None = None
    api_version: str = DEFAULT_API_VERSION
    # Off: events are recorded (`GET /v1/events`) but nothing is posted to any endpoint.
    webhooks_enabled: bool = True
    # Stripe saves a 500 that happened once the endpoint began executing and replays it for the
    # same Idempotency-Key; off, such a 500 is forgotten and a retry runs the request again.
    replay_server_errors: bool = True
    # The next this many API requests fail with a 500 from inside the endpoint (after the
    # idempotency layer recorded them), the kind Stripe saves and replays.
    server_error_next: int = 0
    # JSON file the sandbox loads at start and rewrites (atomically) after every change.
    state_file: str | None = None


RUNTIME_FIELDS: dict[str, type] = {
    "latency_ms": int,
    "failure_rate": float,
    "failure_status": int,
    "webhook_drop_rate": float,
    "lose_response_next": int,
    "refunds_pending": bool,
    "refund_failure_delay_seconds": float,
    "webhook_retry_base_seconds": float,
    "webhook_retry_max_delay_seconds": float,
    "webhook_max_attempts": int,
    "webhook_timeout_seconds": float,
    "enforce_minimum_amounts": bool,
    "seed": int,
    "public_url": str,
    "webhooks_enabled": bool,
    "replay_server_errors": bool,
    "server_error_next": int,
}


@dataclass
class RuntimeSettings:
    """The knobs `POST /_sandbox/config` may turn while the server runs."""

    latency_ms: int
    failure_rate: float
    failure_status: int
    webhook_drop_rate: float
    lose_response_next: int
    refunds_pending: bool
    refund_failure_delay_seconds: float
    webhook_retry_base_seconds: float
    webhook_retry_max_delay_seconds: float
    webhook_max_attempts: int
    webhook_timeout_seconds: float
    enforce_minimum_amounts: bool
    seed: int | None
    public_url: str | None
    webhooks_enabled: bool
    replay_server_errors: bool
    server_error_next: int

    @classmethod
    def from_config(cls, config: StripeSandboxConfig) -> RuntimeSettings:
        return cls(**{name: getattr(config, name) for name in RUNTIME_FIELDS})

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def update(self, changes: dict[str, Any]) -> list[str]:
        """Apply validated changes; returns the names that were set."""
        unknown = sorted(set(changes) - set(RUNTIME_FIELDS))
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        coerced: dict[str, Any] = {}
        for name, value in changes.items():
            kind = RUNTIME_FIELDS[name]
            if value is None and name in ("seed", "public_url"):
                coerced[name] = None
                continue
            if kind is bool:
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be a boolean")
                coerced[name] = value
            elif kind is int:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"{name} must be an integer")
                coerced[name] = value
            elif kind is float:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"{name} must be a number")
                coerced[name] = float(value)
            else:
                if not isinstance(value, str):
                    raise ValueError(f"{name} must be a string")
                coerced[name] = value
        for rate in ("failure_rate", "webhook_drop_rate"):
            if rate in coerced and not 0.0 <= coerced[rate] <= 1.0:
                raise ValueError(f"{rate} must be between 0 and 1")
        if "failure_status" in coerced and coerced["failure_status"] not in (429, 500, 502, 503):
            raise ValueError("failure_status must be one of 429, 500, 502, 503")
        for name in ("latency_ms", "lose_response_next", "server_error_next"):
            if name in coerced and coerced[name] < 0:
                raise ValueError(f"{name} must not be negative")
        if "webhook_max_attempts" in coerced and coerced["webhook_max_attempts"] < 1:
            raise ValueError("webhook_max_attempts must be at least 1")
        for name, value in coerced.items():
            setattr(self, name, value)
        return sorted(coerced)
