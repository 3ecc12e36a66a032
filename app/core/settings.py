"""Typed, validated settings. Every variable is prefixed `PAYMENTS_`."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["development", "production"]

DEFAULT_STRIPE_API_BASE = "https://api.stripe.com"
_PLACEHOLDER = re.compile(r"(change[-_]?me|placeholder|example|xxx|your[-_])", re.IGNORECASE)
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}
# Every secret-looking value this repository publishes (.env.example, the README, `dev`,
# the sandboxes): a deployment that uses one has no secret at all.
PUBLISHED_SAMPLES: frozenset[str] = frozenset(
    {
        "dev_local_api_key_do_not_use_in_production",
        "change-me-to-a-long-random-key",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_change_me",
        "sk_test_sandbox",
        "pk_test_sandbox",
        "sk_test_pingxx_sandbox",
    }
)

DEFAULT_PINGXX_API_BASE = "https://api.pingxx.com"
# `provider` or `provider:method`; which ones exist is the provider registry's to say.
_CHANNEL_SHAPE = re.compile(r"[a-z]+(:[a-z_]+)?")


class ConfigurationError(Exception):
    """A setting is missing or unsafe; the message names the variable."""


def hash_api_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PAYMENTS_", env_file=".env", extra="ignore", frozen=True
    )

    environment: Environment = "development"
    database_url: SecretStr | None = Field(
        default=None,
        description="postgresql+asyncpg://user:password@host:port/db; unset: embedded PostgreSQL",
    )
    data_dir: Path = Field(default=Path(".data"), description="embedded PostgreSQL data lives here")
    db_pool_size: int = Field(default=20, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)

    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="bearer keys of internal callers, comma-separated"
    )
    api_key_hashes: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="sha256 hex digests of bearer keys, comma-separated"
    )

    stripe_secret_key: SecretStr | None = None
    stripe_publishable_key: str | None = None
    stripe_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    stripe_webhook_tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    stripe_api_base: str = DEFAULT_STRIPE_API_BASE
    stripe_max_network_retries: int = Field(default=2, ge=0, le=10)
    stripe_timeout_seconds: float = Field(default=20.0, gt=0, le=120)
    allow_test_keys_in_production: bool = False

    pingxx_secret_key: SecretStr | None = None
    pingxx_app_id: str | None = Field(
        default=None, description="app_..., from the Ping++ dashboard"
    )
    pingxx_public_key: str | None = Field(
        default=None, description="Ping++'s RSA public key (PEM) that signs its webhooks"
    )
    pingxx_private_key: SecretStr | None = Field(
        default=None,
        description="your RSA private key (PEM): requests are signed with it; its public "
        "half goes into Ping++'s dashboard",
    )
    pingxx_api_base: str = DEFAULT_PINGXX_API_BASE
    pingxx_timeout_seconds: float = Field(default=20.0, gt=0, le=120)

    default_channel: str = "stripe"
    enabled_channels: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["stripe"])

    notification_url: str | None = Field(
        default=None, description="the order service's endpoint for our events"
    )
    notification_secret: SecretStr | None = Field(
        default=None, description="Standard Webhooks signing secret, whsec_<base64>"
    )
    notification_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    notification_retry_schedule: Annotated[list[float], NoDecode] = Field(
        # Seconds before each retry: ~32 hours in all, then the event is dead-lettered.
        default_factory=lambda: [
            5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 28800.0, 28800.0
        ]
    )  # fmt: skip
    relay_batch_size: int = Field(default=50, ge=1, le=1000)
    relay_poll_seconds: float = Field(default=5.0, gt=0, le=300)
    relay_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    notification_order_hold_seconds: float = Field(
        default=3600.0,
        ge=0,
        le=7 * 86400,
        description="a payment's later events wait this long at most for an earlier one "
        "that keeps failing",
    )
    reconcile_interval_seconds: float = Field(default=60.0, gt=0, le=86400)
    reconcile_stale_after_seconds: float = Field(default=300.0, ge=0, le=86400)
    reconcile_max_delay_seconds: float = Field(
        default=6 * 3600.0,
        gt=0,
        le=7 * 86400,
        description="the longest the janitor waits between two checks of an open payment",
    )
    reconcile_batch_size: int = Field(default=200, ge=1, le=10_000)
    reconcile_concurrency: int = Field(default=4, ge=1, le=64)
    payment_ttl_seconds: int = Field(
        default=86400,
        ge=1,
        le=30 * 86400,
        description="an open payment older than this is canceled at its provider: expired",
    )
    refund_duplicates: bool = Field(
        default=True,
        description="refund in full a second successful payment of an already paid order",
    )
    idempotency_lease_seconds: float = Field(
        default=6.0,
        gt=0,
        le=600,
        description="how long a request's hold on its Idempotency-Key lasts unless renewed; "
        "renewed while the request runs, so a crashed holder frees it this quickly",
    )
    webhook_retention_days: int = Field(default=30, ge=1, le=3650)
    event_retention_days: int = Field(default=30, ge=1, le=3650)
    run_workers_in_api: bool = Field(
        default=False, description="run the relay and janitor inside the API process too"
    )
    migrate_on_start: bool = Field(
        default=False, description="run migrations at startup (dev; production uses a job)"
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=50_000_000)
    api_docs: bool | None = Field(
        default=None,
        description="serve /docs, /redoc and /openapi.json; unset: in development only",
    )
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    log_level: str = "INFO"

    @field_validator(
        "api_keys",
        "stripe_webhook_secrets",
        "api_key_hashes",
        "enabled_channels",
        "notification_retry_schedule",
        mode="before",
    )
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator(
        "database_url",
        "stripe_secret_key",
        "stripe_publishable_key",
        "pingxx_secret_key",
        "pingxx_app_id",
        "pingxx_public_key",
        "pingxx_private_key",
        "notification_url",
        "notification_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `PAYMENTS_DATABASE_URL=` in a compose file means "not set", not "the empty URL".
        if (
            isinstance(value, str | SecretStr)
            and not str(value.get_secret_value() if isinstance(value, SecretStr) else value).strip()
        ):
            return None
        return value

    @field_validator("api_key_hashes")
    @classmethod
    def _hex_digests(cls, value: list[str]) -> list[str]:
        for digest in value:
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ValueError("PAYMENTS_API_KEY_HASHES holds sha256 hex digests (64 hex chars)")
        return value

    @field_validator("enabled_channels")
    @classmethod
    def _channel_names(cls, value: list[str]) -> list[str]:
        for channel in value:
            if not _CHANNEL_SHAPE.fullmatch(channel):
                raise ValueError(f"PAYMENTS_ENABLED_CHANNELS: {channel!r} is not a channel name")
        return value

    @model_validator(mode="after")
    def _default_channel_enabled(self) -> Settings:
        if self.default_channel not in self.enabled_channels:
            raise ValueError(
                f"PAYMENTS_DEFAULT_CHANNEL {self.default_channel!r} is not in "
                "PAYMENTS_ENABLED_CHANNELS"
            )
        return self

    @property
    def api_docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else self.environment != "production"

    @property
    def stripe_livemode(self) -> bool:
        key = self.stripe_secret_key.get_secret_value() if self.stripe_secret_key else ""
        return key.startswith(("sk_live_", "rk_live_"))

    def api_key_digests(self) -> list[str]:
        """Only hashes are kept in memory for comparison."""
        return [hash_api_key(k.get_secret_value()) for k in self.api_keys] + list(
            self.api_key_hashes
        )

    def check_startup(self) -> None:
        """Refuse to start with a missing or unsafe setting, naming the variable."""
        problems: list[str] = []
        if not self.api_keys and not self.api_key_hashes:
            problems.append(
                "PAYMENTS_API_KEYS (or PAYMENTS_API_KEY_HASHES) must name at least one key"
            )
        if self.stripe_publishable_key and not self.stripe_publishable_key.startswith("pk_"):
            # It is handed to every browser by /v1/public/config.
            problems.append("PAYMENTS_STRIPE_PUBLISHABLE_KEY is not a publishable (pk_) key")
        if any(c.startswith("stripe") for c in self.enabled_channels):
            problems.extend(self._stripe_problems())
        if any(c.startswith("pingxx") for c in self.enabled_channels):
            problems.extend(self._pingxx_problems())
        problems.extend(self._notification_problems())
        if self.environment == "production":
            problems.extend(self._production_problems())
        if problems:
            raise ConfigurationError("; ".join(problems))

    def _notification_problems(self) -> list[str]:
        secret = self.notification_secret.get_secret_value() if self.notification_secret else ""
        if self.notification_url and not _is_standard_webhooks_secret(secret):
            return [
                "PAYMENTS_NOTIFICATION_SECRET must be a whsec_ secret (whsec_ and the base64 "
                "of at least 24 random bytes) when PAYMENTS_NOTIFICATION_URL is set"
            ]
        return []

    def _stripe_problems(self) -> list[str]:
        problems: list[str] = []
        if self.stripe_secret_key is None:
            problems.append("PAYMENTS_STRIPE_SECRET_KEY is not set")
        if not self.stripe_publishable_key:
            problems.append("PAYMENTS_STRIPE_PUBLISHABLE_KEY is not set")
        if not self.stripe_webhook_secrets:
            problems.append("PAYMENTS_STRIPE_WEBHOOK_SECRETS is not set")
        return problems

    def _pingxx_problems(self) -> list[str]:
        problems: list[str] = []
        if self.pingxx_secret_key is None:
            problems.append("PAYMENTS_PINGXX_SECRET_KEY is not set")
        if not self.pingxx_app_id or not re.fullmatch(r"app_[A-Za-z0-9]{8,32}", self.pingxx_app_id):
            problems.append("PAYMENTS_PINGXX_APP_ID is not set to a Ping++ app id (app_...)")
        if not self.pingxx_public_key:
            problems.append(
                "PAYMENTS_PINGXX_PUBLIC_KEY is not set: no Ping++ webhook could be verified"
            )
        elif not _is_pem(self.pingxx_public_key, private=False):
            problems.append("PAYMENTS_PINGXX_PUBLIC_KEY is not an RSA public key in PEM")
        if self.pingxx_private_key is not None and not _is_pem(
            self.pingxx_private_key.get_secret_value(), private=True
        ):
            problems.append("PAYMENTS_PINGXX_PRIVATE_KEY is not an RSA private key in PEM")
        return problems

    def _production_problems(self) -> list[str]:
        problems: list[str] = []
        if self.database_url is None:
            problems.append("PAYMENTS_DATABASE_URL is not set (no embedded database in production)")
        if not self.notification_url:
            problems.append(
                "PAYMENTS_NOTIFICATION_URL is not set: the order service would hear nothing"
            )
        elif self.notification_secret and _is_sample(self.notification_secret.get_secret_value()):
            problems.append("PAYMENTS_NOTIFICATION_SECRET is a published sample")
        for key in self.api_keys:
            if not _is_strong_secret(key.get_secret_value()):
                problems.append(
                    "PAYMENTS_API_KEYS holds a short, guessable or published key (use at "
                    "least 32 random characters)"
                )
                break
        if any(c.startswith("stripe") for c in self.enabled_channels):
            problems.extend(self._stripe_production_problems())
        if any(c.startswith("pingxx") for c in self.enabled_channels):
            problems.extend(self._pingxx_production_problems())
        return problems

    def _pingxx_production_problems(self) -> list[str]:
        problems: list[str] = []
        mode = "(live|test)" if self.allow_test_keys_in_production else "live"
        secret = self.pingxx_secret_key.get_secret_value() if self.pingxx_secret_key else ""
        if secret and (not re.fullmatch(rf"sk_{mode}_[A-Za-z0-9]{{20,}}", secret)
                       or _is_sample(secret)):  # fmt: skip
            problems.append(_key_shape("PAYMENTS_PINGXX_SECRET_KEY", "sk_live_", mode))
        host = urlsplit(self.pingxx_api_base).hostname or ""
        if self.pingxx_api_base != DEFAULT_PINGXX_API_BASE or host in _LOOPBACK_HOSTS:
            problems.append(
                "PAYMENTS_PINGXX_API_BASE points at a sandbox; production talks to "
                + DEFAULT_PINGXX_API_BASE
            )
        return problems

    def _stripe_production_problems(self) -> list[str]:
        problems: list[str] = []
        mode = "(live|test)" if self.allow_test_keys_in_production else "live"
        secret = self.stripe_secret_key.get_secret_value() if self.stripe_secret_key else ""
        if secret and (not re.fullmatch(rf"(sk|rk)_{mode}_[A-Za-z0-9]{{20,}}", secret)
                       or _is_sample(secret)):  # fmt: skip
            problems.append(_key_shape("PAYMENTS_STRIPE_SECRET_KEY", "sk_live_/rk_live_", mode))
        publishable = self.stripe_publishable_key or ""
        if publishable and (not re.fullmatch(rf"pk_{mode}_[A-Za-z0-9]{{20,}}", publishable)
                            or _is_sample(publishable)):  # fmt: skip
            problems.append(_key_shape("PAYMENTS_STRIPE_PUBLISHABLE_KEY", "pk_live_", mode))
        for webhook_secret in self.stripe_webhook_secrets:
            value = webhook_secret.get_secret_value()
            if not re.fullmatch(r"whsec_[A-Za-z0-9+/=]{32,}", value) or _is_sample(value):
                problems.append(
                    "PAYMENTS_STRIPE_WEBHOOK_SECRETS holds a value that is not a Stripe "
                    "signing secret (whsec_ and 32 or more characters)"
                )
                break
        host = urlsplit(self.stripe_api_base).hostname or ""
        if self.stripe_api_base != DEFAULT_STRIPE_API_BASE or host in _LOOPBACK_HOSTS:
            problems.append(
                "PAYMENTS_STRIPE_API_BASE points at a sandbox; production talks to "
                + DEFAULT_STRIPE_API_BASE
            )
        return problems


def _key_shape(variable: str, expected: str, mode: str) -> str:
    allowed = "" if mode == "live" else " (test keys are allowed)"
    return f"{variable} is not a Stripe key of the right kind: {expected}...{allowed}"


def _is_sample(value: str) -> bool:
    return value in PUBLISHED_SAMPLES or bool(_PLACEHOLDER.search(value))


def _is_pem(value: str, *, private: bool) -> bool:
    from cryptography.hazmat.primitives import serialization

    text = value.strip().replace("\\n", "\n").encode()
    try:
        if private:
            serialization.load_pem_private_key(text, password=None)
        else:
            serialization.load_pem_public_key(text)
    except (ValueError, TypeError):
        return False
    return True


def _is_strong_secret(value: str) -> bool:
    """Long, with the spread of characters of a random string, and nobody's sample."""
    return len(value) >= 32 and len(set(value)) >= 12 and not _is_sample(value)


def _is_standard_webhooks_secret(value: str) -> bool:
    if not value.startswith("whsec_"):
        return False
    try:
        key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
    except ValueError:
        return False
    return len(key) >= 24
