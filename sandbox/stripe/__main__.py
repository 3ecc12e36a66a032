"""`python -m sandbox.stripe --port 12111 --webhook-url URL --webhook-secret whsec_...`"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys

from sandbox.runner import run_stripe_sandbox
from sandbox.stripe.config import StripeSandboxConfig


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.stripe", description="Offline Stripe API sandbox"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--secret-key", default="sk_test_sandbox")
    parser.add_argument("--publishable-key", default="pk_test_sandbox")
    parser.add_argument(
        "--webhook-url",
        action="append",
        default=[],
        help="repeatable; paired with --webhook-secret",
    )
    parser.add_argument(
        "--webhook-secret",
        action="append",
        default=[],
        help="whsec_... for the --webhook-url at the same position (generated when missing)",
    )
    parser.add_argument("--webhook-retry-base", type=float, default=2.0, help="seconds")
    parser.add_argument("--webhook-max-attempts", type=int, default=6)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--webhook-drop-rate", type=float, default=0.0)
    parser.add_argument("--refunds-pending", action="store_true")
    parser.add_argument("--no-minimum-amounts", action="store_true")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--public-url", default=None, help="base URL browsers use to reach us")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if len(args.webhook_secret) > len(args.webhook_url):
        sys.exit("more --webhook-secret than --webhook-url values")
    endpoints: list[tuple[str, str]] = []
    for index, url in enumerate(args.webhook_url):
        given = args.webhook_secret[index] if index < len(args.webhook_secret) else None
        secret = given or f"whsec_{secrets.token_hex(16)}"
        endpoints.append((url, secret))
        if given is None:
            print(f"webhook endpoint {url} signs with {secret}", file=sys.stderr)
    config = StripeSandboxConfig(
        secret_key=args.secret_key,
        publishable_key=args.publishable_key,
        webhook_endpoints=endpoints,
        webhook_retry_base_seconds=args.webhook_retry_base,
        webhook_max_attempts=args.webhook_max_attempts,
        latency_ms=args.latency_ms,
        failure_rate=args.failure_rate,
        webhook_drop_rate=args.webhook_drop_rate,
        refunds_pending=args.refunds_pending,
        enforce_minimum_amounts=not args.no_minimum_amounts,
        seed=args.seed,
        public_url=args.public_url,
    )
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_stripe_sandbox(args.host, args.port, config)


if __name__ == "__main__":
    main()
