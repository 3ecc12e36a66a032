"""The reference integration type-checks against the real @stripe/stripe-js declarations."""

from __future__ import annotations

import json
from pathlib import Path

from tests.sandbox.stripe_js import toolchain

MISUSE = """
import type { StripeConstructor } from "@stripe/stripe-js";
const stripe = (window.Stripe as StripeConstructor)("pk_test_x");
const elements = stripe.elements({ clientSecret: "pi_1_secret_2" });
elements.create("payment").on("change", (event) => event.value.no_such_field);
void stripe.confirmPayment({ elements, redirect: "if_required", confirmParams: { return_url: 1 } });
"""


def test_integration_type_checks_strictly_against_stripe_js_declarations() -> None:
    result = toolchain.tsc("--noEmit", "--strict")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_uses_the_pinned_declarations() -> None:
    toolchain.ensure_installed()
    pins = json.loads((toolchain.HERE / "package.json").read_text())["devDependencies"]
    installed = json.loads(
        (toolchain.NODE_MODULES / "@stripe" / "stripe-js" / "package.json").read_text()
    )
    assert installed["version"] == pins["@stripe/stripe-js"]


def test_the_check_refuses_calls_the_declarations_forbid(tmp_path: Path) -> None:
    # Proves the declarations are really read: were they `any`, this would pass.
    toolchain.ensure_installed()
    (tmp_path / "node_modules").symlink_to(toolchain.NODE_MODULES)
    source = tmp_path / "misuse.ts"
    source.write_text(MISUSE)
    config = {
        "extends": str(toolchain.HERE / "tsconfig.json"),
        "compilerOptions": {"rootDir": "."},
        "files": ["misuse.ts"],
    }
    (tmp_path / "tsconfig.json").write_text(json.dumps(config))
    result = toolchain.tsc("--noEmit", "--strict", project=tmp_path / "tsconfig.json")
    assert result.returncode != 0
    assert "no_such_field" in result.stdout
    assert "misuse.ts(6," in result.stdout  # the confirmPayment call
