import base64
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core.settings import ConfigurationError, Settings, hash_api_key
from app.providers.registry import check_enabled_channels

ROOT = Path(__file__).resolve().parents[2]

LIVE = {
    "environment": "production",
    "database_url": "postgresql://payments:pw@db:5432/payments",
    "api_keys": "Zq8vX2mN4pL7rT1wY9bK3cF6hJ0sD5gA_live",
    "stripe_secret_key": "sk_live_51Hx8KqLm2Nv9PzRw4Ty6Ub3Ic7Od0",
    "stripe_publishable_key": "pk_live_51Hx8KqLm2Nv9PzRw4Ty6Ub3Ic7Od0",
    "stripe_webhook_secrets": "whsec_9pQ2rT7vX1zB4nM6kL8jH3gF5dS0aW2e",
    "notification_url": "https://orders.internal/payment-events",
    "notification_secret": "whsec_" + base64.b64encode(b"0123456789abcdefghijklmn").decode(),
}


def settings(**overrides: object) -> Settings:
    return Settings(_env_file=None, **{**LIVE, **overrides})  # type: ignore[arg-type]


class TestProductionRefusals:
    def test_a_complete_live_configuration_starts(self) -> None:
        settings().check_startup()

    @pytest.mark.parametrize(
        ("overrides", "variable"),
        [
            ({"stripe_api_base": "http://127.0.0.1:12111"}, "PAYMENTS_STRIPE_API_BASE"),
            ({"stripe_secret_key": ""}, "PAYMENTS_STRIPE_SECRET_KEY"),
            ({"stripe_secret_key": "sk_live_changeme"}, "PAYMENTS_STRIPE_SECRET_KEY"),
            ({"stripe_secret_key": "sk_test_" + "a" * 24}, "PAYMENTS_STRIPE_SECRET_KEY"),
            ({"stripe_publishable_key": "pk_test_abc"}, "PAYMENTS_STRIPE_PUBLISHABLE_KEY"),
            ({"stripe_webhook_secrets": ""}, "PAYMENTS_STRIPE_WEBHOOK_SECRETS"),
            ({"stripe_webhook_secrets": "whsec_placeholder"}, "PAYMENTS_STRIPE_WEBHOOK_SECRETS"),
            ({"api_keys": ""}, "PAYMENTS_API_KEYS"),
            ({"api_keys": "short"}, "PAYMENTS_API_KEYS"),
            ({"database_url": None}, "PAYMENTS_DATABASE_URL"),
            # Wherever the channels point: the check sits with the others, not with Stripe's.
            (
                {
                    "database_url": None,
                    "enabled_channels": "pingxx:alipay_qr",
                    "default_channel": "pingxx:alipay_qr",
                },
                "PAYMENTS_DATABASE_URL",
            ),
            ({"notification_url": None}, "PAYMENTS_NOTIFICATION_URL"),
            ({"notification_secret": None}, "PAYMENTS_NOTIFICATION_SECRET"),
            ({"notification_secret": "plain"}, "PAYMENTS_NOTIFICATION_SECRET"),
            # The reproductions: each of these used to start.
            ({"stripe_secret_key": "hello"}, "PAYMENTS_STRIPE_SECRET_KEY"),
            (
                {"stripe_publishable_key": "sk_live_51Hx8KqLm2Nv9PzRw4Ty6Ub3Ic7Od0"},
                "PAYMENTS_STRIPE_PUBLISHABLE_KEY",
            ),
            ({"stripe_webhook_secrets": "whsec_a"}, "PAYMENTS_STRIPE_WEBHOOK_SECRETS"),
            ({"stripe_webhook_secrets": "secret123"}, "PAYMENTS_STRIPE_WEBHOOK_SECRETS"),
            (
                {"api_keys": "dev_local_api_key_do_not_use_in_production"},
                "PAYMENTS_API_KEYS",
            ),
            (
                {"notification_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
                "PAYMENTS_NOTIFICATION_SECRET",
            ),
            ({"database_url": ""}, "PAYMENTS_DATABASE_URL"),
            ({"api_keys": "a" * 40}, "PAYMENTS_API_KEYS"),
            (
                {"stripe_secret_key": "pk_live_51Hx8KqLm2Nv9PzRw4Ty6Ub3Ic7Od0"},
                "PAYMENTS_STRIPE_SECRET_KEY",
            ),
            (
                {"stripe_webhook_secrets": "whsec_9pQ2rT7vX1zB4nM6kL8jH3gF5dS0aW2e,whsec_x"},
                "PAYMENTS_STRIPE_WEBHOOK_SECRETS",
            ),
        ],
    )
    def test_refuses_and_names_the_variable(self, overrides: dict[str, object], variable: str):
        with pytest.raises(ConfigurationError, match=variable):
            settings(**overrides).check_startup()

    def test_test_keys_allowed_only_when_said_so(self) -> None:
        settings(
            stripe_secret_key="sk_test_51Hx8KqLm2Nv9PzRw4Ty6Ub3Ic7Od0",
            stripe_publishable_key="pk_test_51Hx8KqLm2Nv9PzRw4Ty6Ub3Ic7Od0",
            allow_test_keys_in_production=True,
        ).check_startup()

    def test_the_refusal_never_echoes_a_secret(self) -> None:
        secret = "sk_live_changeme_supersecret"
        with pytest.raises(ConfigurationError) as caught:
            settings(stripe_secret_key=secret).check_startup()
        assert secret not in str(caught.value)

    def test_development_accepts_the_sandbox(self) -> None:
        settings(
            environment="development",
            stripe_api_base="http://127.0.0.1:12111",
            stripe_secret_key="sk_test_sandbox",
            api_keys="dev",
            database_url=None,
        ).check_startup()


def _pem_pair() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


PRIVATE_PEM, PUBLIC_PEM = _pem_pair()
LIVE_PINGXX = {
    "enabled_channels": "stripe,pingxx:alipay_qr,pingxx:wx_pub",
    "pingxx_secret_key": "sk_live_" + "Ab3De6Gh9Jk2Mn5Pq8St1Vw4",
    "pingxx_app_id": "app_1Gqj58ynP0mHeX1q",
    "pingxx_public_key": PUBLIC_PEM,
    "pingxx_private_key": PRIVATE_PEM,
}


class TestPingxxSettings:
    def test_a_complete_live_configuration_starts(self) -> None:
        settings(**LIVE_PINGXX).check_startup()

    def test_escaped_newlines_are_a_pem_too(self) -> None:
        escaped = {
            "pingxx_public_key": PUBLIC_PEM.replace("\n", "\\n"),
            "pingxx_private_key": PRIVATE_PEM.replace("\n", "\\n"),
        }
        settings(**{**LIVE_PINGXX, **escaped}).check_startup()

    @pytest.mark.parametrize(
        ("overrides", "variable"),
        [
            ({"pingxx_public_key": None}, "PAYMENTS_PINGXX_PUBLIC_KEY"),
            ({"pingxx_public_key": ""}, "PAYMENTS_PINGXX_PUBLIC_KEY"),
            ({"pingxx_public_key": "not a key"}, "PAYMENTS_PINGXX_PUBLIC_KEY"),
            ({"pingxx_public_key": PRIVATE_PEM}, "PAYMENTS_PINGXX_PUBLIC_KEY"),
            ({"pingxx_private_key": PUBLIC_PEM}, "PAYMENTS_PINGXX_PRIVATE_KEY"),
            ({"pingxx_secret_key": None}, "PAYMENTS_PINGXX_SECRET_KEY"),
            ({"pingxx_secret_key": "sk_test_" + "a" * 24}, "PAYMENTS_PINGXX_SECRET_KEY"),
            ({"pingxx_secret_key": "sk_live_short"}, "PAYMENTS_PINGXX_SECRET_KEY"),
            ({"pingxx_secret_key": "sk_test_sandbox"}, "PAYMENTS_PINGXX_SECRET_KEY"),
            ({"pingxx_app_id": None}, "PAYMENTS_PINGXX_APP_ID"),
            ({"pingxx_app_id": "my-app"}, "PAYMENTS_PINGXX_APP_ID"),
            ({"pingxx_api_base": "http://127.0.0.1:12112"}, "PAYMENTS_PINGXX_API_BASE"),
            ({"pingxx_api_base": "https://sandbox.example"}, "PAYMENTS_PINGXX_API_BASE"),
        ],
    )
    def test_refuses_and_names_the_variable(
        self, overrides: dict[str, object], variable: str
    ) -> None:
        with pytest.raises(ConfigurationError, match=variable):
            settings(**{**LIVE_PINGXX, **overrides}).check_startup()

    def test_without_a_pingxx_channel_nothing_of_it_is_needed(self) -> None:
        settings(pingxx_public_key=None, pingxx_secret_key=None).check_startup()

    def test_development_needs_the_public_key_too(self) -> None:
        with pytest.raises(ConfigurationError, match="PAYMENTS_PINGXX_PUBLIC_KEY"):
            settings(
                **{**LIVE_PINGXX, "environment": "development", "pingxx_public_key": None}
            ).check_startup()

    def test_test_keys_allowed_only_when_said_so(self) -> None:
        settings(
            **{**LIVE_PINGXX, "pingxx_secret_key": "sk_test_" + "Ab3De6Gh9Jk2Mn5Pq8St1Vw4"},
            allow_test_keys_in_production=True,
        ).check_startup()

    def test_the_private_key_never_shows(self) -> None:
        shown = repr(settings(**LIVE_PINGXX))
        assert "PRIVATE KEY" not in shown
        assert LIVE_PINGXX["pingxx_secret_key"] not in shown


class TestParsing:
    def test_comma_separated_lists(self) -> None:
        s = settings(api_keys="a, b", stripe_webhook_secrets="whsec_1,whsec_2")
        assert [k.get_secret_value() for k in s.api_keys] == ["a", "b"]
        assert len(s.stripe_webhook_secrets) == 2

    def test_only_hashes_are_compared(self) -> None:
        s = settings(api_keys="alpha", api_key_hashes=hash_api_key("beta"))
        assert s.api_key_digests() == [hash_api_key("alpha"), hash_api_key("beta")]

    def test_retry_schedule_from_a_list(self) -> None:
        assert settings(notification_retry_schedule="0.1, 0.2").notification_retry_schedule == [
            0.1,
            0.2,
        ]

    def test_default_retry_schedule_covers_a_day(self) -> None:
        assert sum(settings().notification_retry_schedule) >= 24 * 3600

    def test_bad_hash_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="PAYMENTS_API_KEY_HASHES"):
            settings(api_key_hashes="nothex")

    def test_a_malformed_channel_name_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="PAYMENTS_ENABLED_CHANNELS"):
            settings(enabled_channels="stripe,pay pal")

    def test_a_channel_no_adapter_serves_is_refused(self) -> None:
        with pytest.raises(ConfigurationError, match="PAYMENTS_ENABLED_CHANNELS"):
            check_enabled_channels(settings(enabled_channels="stripe,paypal"))

    def test_secrets_do_not_show_in_repr(self) -> None:
        assert "sk_live_" not in repr(settings())


class TestEnvExample:
    """`.env.example` lists every setting, and nothing that is not one."""

    def test_in_step_with_the_settings_class(self) -> None:
        text = (ROOT / ".env.example").read_text()
        listed = set(re.findall(r"^#?\s*PAYMENTS_([A-Z0-9_]+)=", text, flags=re.MULTILINE))
        expected = {name.upper() for name in Settings.model_fields}
        assert listed == expected

    def test_every_setting_has_a_comment(self) -> None:
        lines = (ROOT / ".env.example").read_text().splitlines()
        for index, line in enumerate(lines):
            if re.match(r"^#?\s*PAYMENTS_[A-Z0-9_]+=", line):
                assert index > 0
                assert lines[index - 1].startswith("# "), line


def _env_example_values() -> list[tuple[str, str]]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    found = [re.match(r"^#?\s*PAYMENTS_([A-Z0-9_]+)=(.+)$", line) for line in lines]
    return [(m.group(1).lower(), m.group(2)) for m in found if m]


SECRETS = (
    "api_keys",
    "stripe_secret_key",
    "stripe_publishable_key",
    "stripe_webhook_secrets",
    "notification_secret",
)


class TestPublishedSamples:
    @pytest.mark.parametrize(
        ("name", "value"), [(n, v) for n, v in _env_example_values() if n in SECRETS]
    )
    def test_no_sample_in_env_example_starts_in_production(self, name: str, value: str) -> None:
        with pytest.raises(ConfigurationError, match=f"PAYMENTS_{name.upper()}"):
            settings(**{name: value}).check_startup()

    def test_a_publishable_key_that_is_a_secret_one_is_refused_even_in_development(self) -> None:
        with pytest.raises(ConfigurationError, match="PAYMENTS_STRIPE_PUBLISHABLE_KEY"):
            settings(
                environment="development", stripe_publishable_key="sk_test_sandbox"
            ).check_startup()
