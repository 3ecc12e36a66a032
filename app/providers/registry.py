"""Channel names -> (provider, method) and the adapter that serves them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.providers.base import PaymentProvider


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
    """`stripe` is shorthand for `stripe:payment_intent`; anything unlisted is refused."""
    provider, _, method = value.partition(":")
    match provider, method:
        case "stripe", "" | "payment_intent":
            return Channel("stripe", "payment_intent")
        case "stripe", "checkout_session":
            return Channel("stripe", "checkout_session")
        case "pingxx", "alipay_qr" | "alipay_wap" | "wx_pub_qr" | "wx_pub" | "alipay" | "wx":
            return Channel("pingxx", method)
        case _:
            raise UnknownChannel(value)


class ProviderRegistry:
    def __init__(self, providers: Mapping[str, PaymentProvider], enabled: set[str]) -> None:
        self._providers = dict(providers)
        self._enabled = enabled

    def is_enabled(self, channel: Channel) -> bool:
        """Enabled in the settings and served by its adapter (a channel named in the
        settings that no adapter serves yet is refused like a disabled one)."""
        provider = self._providers.get(channel.provider)
        shorthand = channel.provider if channel.method == "payment_intent" else None
        return (
            provider is not None
            and channel.method in provider.methods
            and (channel.name in self._enabled or shorthand in self._enabled)
        )

    def get(self, provider: str) -> PaymentProvider:
        return self._providers[provider]

    def has(self, provider: str) -> bool:
        return provider in self._providers

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
