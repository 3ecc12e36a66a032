"""Start-up configuration of the Ping++ sandbox and the part of it tests change at runtime."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

# Ping++ app ids are `app_` and 16 letters or digits.
DEFAULT_APP_ID = "app_SandboxApp000001"


@dataclass
class PingxxSandboxConfig:
    secret_key: str = "sk_test_sandbox"
    # Charges must name one of these apps; an empty list accepts any `app_...` id.
    app_ids: list[str] = field(default_factory=lambda: [DEFAULT_APP_ID])
    # The merchant's RSA public key (PEM), the one a merchant uploads to the dashboard. When
    # set, POST and PUT requests must carry a valid `Pingplusplus-Signature`, as Ping++ does
    # once the dashboard's signature switch is on.
    merchant_public_key: str | None = None
    # Ping++ documents the check for POST and PUT only; the SDK signs GETs too.
    verify_get_signatures: bool = False
    request_timestamp_tolerance_seconds: int = 300
    # The key webhooks are signed with (PEM, PKCS#1 or PKCS#8); generated at start when None.
    webhook_private_key: str | None = None
    # URLs that receive every event, registered before the first request.
    webhook_urls: list[str] = field(default_factory=list)
    webhooks_enabled: bool = True
    webhook_retry_base_seconds: float = 2.0
    webhook_retry_max_delay_seconds: float = 60.0
    webhook_max_attempts: int = 8
    webhook_timeout_seconds: float = 10.0
    webhook_drop_rate: float = 0.0
    # Ping++ documents no `refund.failed` event; a failed refund is only seen by retrieving it.
    emit_refund_failed: bool = False
    latency_ms: int = 0
    failure_rate: float = 0.0
    failure_status: int = 500
    lose_response_next: int = 0
    refunds_pending: bool = False
    # None keeps Ping++'s per-channel windows in which an identical create returns the first
    # charge (1 minute; 2 hours for WeChat, 5 minutes for wx_wap).
    replay_window_seconds: float | None = None
    # Ping++ refuses a `time_expire` less than a minute ahead; tests lower it to watch expiry.
    min_time_expire_seconds: int = 60
    # Redirect credentials (alipay_wap, alipay_pc_direct, wx_wap) point at the sandbox's own
    # payment page instead of Alipay's and WeChat's hosts, so a browser flow works offline.
    redirect_to_sandbox: bool = True
    seed: int | None = None
    public_url: str | None = None
    # JSON snapshot of every object, rewritten atomically after each change and read at start.
    state_file: str | None = None


RUNTIME_FIELDS: dict[str, type] = {
    "merchant_public_key": str,
    "verify_get_signatures": bool,
    "request_timestamp_tolerance_seconds": int,
    "webhooks_enabled": bool,
    "webhook_retry_base_seconds": float,
    "webhook_retry_max_delay_seconds": float,
    "webhook_max_attempts": int,
    "webhook_timeout_seconds": float,
    "webhook_drop_rate": float,
    "emit_refund_failed": bool,
    "latency_ms": int,
    "failure_rate": float,
    "failure_status": int,
    "lose_response_next": int,
    "refunds_pending": bool,
    "replay_window_seconds": float,
    "min_time_expire_seconds": int,
    "redirect_to_sandbox": bool,
    "seed": int,
    "public_url": str,
}

NULLABLE_FIELDS = frozenset({"merchant_public_key", "replay_window_seconds", "seed", "public_url"})

# 403 is what Ping++ answers when a plan's rate limit is hit (the SDK raises RateLimitError).
FAILURE_STATUSES = (403, 500, 502, 503, 504)


@dataclass
class RuntimeSettings:
    """The knobs `POST /_sandbox/config` may turn while the server runs."""

    merchant_public_key: str | None
    verify_get_signatures: bool
    request_timestamp_tolerance_seconds: int
    webhooks_enabled: bool
    webhook_retry_base_seconds: float
    webhook_retry_max_delay_seconds: float
    webhook_max_attempts: int
    webhook_timeout_seconds: float
    webhook_drop_rate: float
    emit_refund_failed: bool
    latency_ms: int
    failure_rate: float
    failure_status: int
    lose_response_next: int
    refunds_pending: bool
    replay_window_seconds: float | None
    min_time_expire_seconds: int
    redirect_to_sandbox: bool
    seed: int | None
    public_url: str | None

    @classmethod
    def from_config(cls, config: PingxxSandboxConfig) -> RuntimeSettings:
        return cls(**{name: getattr(config, name) for name in RUNTIME_FIELDS})

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def update(self, changes: dict[str, Any]) -> list[str]:
        """Apply validated changes; returns the names that were set."""
        unknown = sorted(set(changes) - set(RUNTIME_FIELDS))
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        coerced = {name: _coerce(name, value) for name, value in changes.items()}
        for rate in ("failure_rate", "webhook_drop_rate"):
            if coerced.get(rate) is not None and not 0.0 <= coerced[rate] <= 1.0:
                raise ValueError(f"{rate} must be between 0 and 1")
        if "failure_status" in coerced and coerced["failure_status"] not in FAILURE_STATUSES:
            allowed = ", ".join(str(s) for s in FAILURE_STATUSES)
            raise ValueError(f"failure_status must be one of {allowed}")
        for name in (
            "latency_ms",
            "lose_response_next",
            "request_timestamp_tolerance_seconds",
            "min_time_expire_seconds",
            "replay_window_seconds",
        ):
            if coerced.get(name) is not None and coerced[name] < 0:
                raise ValueError(f"{name} must not be negative")
        if "webhook_max_attempts" in coerced and coerced["webhook_max_attempts"] < 1:
            raise ValueError("webhook_max_attempts must be at least 1")
        for name, value in coerced.items():
            setattr(self, name, value)
        return sorted(coerced)


def _coerce(name: str, value: Any) -> Any:
    kind = RUNTIME_FIELDS[name]
    if value is None:
        if name in NULLABLE_FIELDS:
            return None
        raise ValueError(f"{name} must not be null")
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be a boolean")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be a number")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value
