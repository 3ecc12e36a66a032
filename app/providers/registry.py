"""Which providers exist, which channels each serves, and the adapters this deployment
builds from its settings. Adding a provider is a folder beside `stripe/` and `pingxx/`,
a line in ADAPTERS and BUILDERS, and its settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from app.core.settings import ConfigurationError, Settings
from app.providers.base import PaymentProvider
from app.providers.pingxx import PingxxProvider
from app.providers.stripe.adapter import StripeProvider

# provider -> the methods (channels) its adapter serves.
ADAPTERS: Mapping[str, frozenset[str]] = {
    "stripe": StripeProvider.methods,
    "pingxx": PingxxProvider.methods,
}
# `stripe` alone means a PaymentIntent.
SHORTHANDS: Mapping[str, str] = {"stripe": "payment_intent"}


def _stripe(settings: Settings) -> PaymentProvider:
    assert settings.stripe_secret_key is not None
    return StripeProvider(
        secret_key=settings.stripe_secret_key.get_secret_value(),
        publishable_key=settings.stripe_publishable_key or "",
        webhook_secrets=[s.get_secret_value() for s in settings.stripe_webhook_secrets],
        api_base=settings.stripe_api_base,
        webhook_tolerance_seconds=settings.stripe_webhook_tolerance_seconds,
        max_network_retries=settings.stripe_max_network_retries,
        timeout_seconds=settings.stripe_timeout_seconds,
    )


def _pingxx(settings: Settings) -> PaymentProvider:
    assert settings.pingxx_secret_key is not None
    assert settings.pingxx_app_id is not None
    return PingxxProvider(
        secret_key=settings.pingxx_secret_key.get_secret_value(),
        app_id=settings.pingxx_app_id,
        public_key=settings.pingxx_public_key,
        private_key=(
            settings.pingxx_private_key.get_secret_value() if settings.pingxx_private_key else None
        ),
        api_base=settings.pingxx_api_base,
        timeout_seconds=settings.pingxx_timeout_seconds,
    )


BUILDERS: Mapping[str, Callable[[Settings], PaymentProvider]] = {
    "stripe": _stripe,
    "pingxx": _pingxx,
}


@dataclass(frozen=True, slots=True)
class Channel:
    provider: str
    method: str

    @property
    def name(self) -> str:
        return f"{self.provider}:{self.method}"


class UnknownChannel(ValueError):
    pass


def parse_channel(value: str) -> Channel:
    """`stripe:payment_intent`, `pingxx:alipay_qr`; `stripe` alone for a PaymentIntent."""
    provider, _, method = value.partition(":")
    method = method or SHORTHANDS.get(provider, "")
    if method not in ADAPTERS.get(provider, frozenset()):
        raise UnknownChannel(value)
    return Channel(provider, method)


def channels_of(provider: str) -> list[str]:
    """Every channel an adapter serves, by its full name (`pingxx:alipay_qr`, ...)."""
    return sorted(f"{provider}:{method}" for method in ADAPTERS[provider])


def check_enabled_channels(settings: Settings) -> None:
    """ConfigurationError naming PAYMENTS_ENABLED_CHANNELS for a channel no adapter serves."""
    unknown = []
    for name in settings.enabled_channels:
        try:
            parse_channel(name)
        except UnknownChannel:
            unknown.append(name)
    if unknown:
        known = sorted(channel for provider in ADAPTERS for channel in channels_of(provider))
        raise ConfigurationError(
            f"PAYMENTS_ENABLED_CHANNELS names {', '.join(unknown)}, which no adapter serves "
            f"(known: {', '.join(known)})"
        )


class ProviderRegistry:
    def __init__(self, providers: Mapping[str, PaymentProvider], enabled: set[str]) -> None:
        self._providers = dict(providers)
        self._enabled = {parse_channel(name).name for name in enabled}

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderRegistry:
        """An adapter for each provider with an enabled channel."""
        check_enabled_channels(settings)
        wanted = {parse_channel(name).provider for name in settings.enabled_channels}
        return cls(
            {name: BUILDERS[name](settings) for name in sorted(wanted)},
            set(settings.enabled_channels),
        )

    @property
    def enabled_channels(self) -> list[str]:
        return sorted(self._enabled)

    @property
    def livemode(self) -> bool:
        """Whether every enabled provider holds live credentials."""
        return bool(self._providers) and all(p.livemode for p in self._providers.values())

    def is_enabled(self, channel: Channel) -> bool:
        return channel.provider in self._providers and channel.name in self._enabled

    def get(self, provider: str) -> PaymentProvider:
        return self._providers[provider]

    def has(self, provider: str) -> bool:
        return provider in self._providers

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
