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
    parser.add_argument("--webhook-retry-max-delay", type=float, default=60.0, help="seconds")
    parser.add_argument("--webhook-max-attempts", type=int, default=6)
    parser.add_argument("--webhook-timeout", type=float, default=10.0, help="seconds")
    parser.add_argument(
        "--no-webhooks",
        action="store_true",
        help="record events but deliver none (resend still delivers)",
    )
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--failure-status", type=int, choices=(429, 500, 502, 503), default=500)
    parser.add_argument(
        "--lose-response-next",
        type=int,
        default=0,
        help="do the work of the next N POST/DELETE requests, then answer 500",
    )
    parser.add_argument(
        "--server-error-next",
        type=int,
        default=0,
        help="fail the next N API requests with a 500 from inside the endpoint",
    )
    parser.add_argument(
        "--no-replay-server-errors",
        action="store_true",
        help="forget such 500s instead of replaying them for the same Idempotency-Key",
    )
    parser.add_argument("--webhook-drop-rate", type=float, default=0.0)
    parser.add_argument("--refunds-pending", action="store_true")
    parser.add_argument(
        "--refund-failure-delay",
        type=float,
        default=1.0,
        help="seconds before a refund of 4000000000005126 turns failed",
    )
    parser.add_argument("--no-minimum-amounts", action="store_true")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--public-url", default=None, help="base URL browsers use to reach us")
    parser.add_argument(
        "--state-file",
        default=None,
        metavar="PATH",
        help="load objects from this JSON file at start and keep it up to date",
    )
    return parser


def config_from_args(
    args: argparse.Namespace, endpoints: list[tuple[str, str]]
) -> StripeSandboxConfig:
    return StripeSandboxConfig(
        secret_key=args.secret_key,
        publishable_key=args.publishable_key,
        webhook_endpoints=endpoints,
        webhook_retry_base_seconds=args.webhook_retry_base,
        webhook_retry_max_delay_seconds=args.webhook_retry_max_delay,
        webhook_max_attempts=args.webhook_max_attempts,
        webhook_timeout_seconds=args.webhook_timeout,
        webhooks_enabled=not args.no_webhooks,
        latency_ms=args.latency_ms,
        failure_rate=args.failure_rate,
        failure_status=args.failure_status,
        lose_response_next=args.lose_response_next,
        server_error_next=args.server_error_next,
        replay_server_errors=not args.no_replay_server_errors,
        webhook_drop_rate=args.webhook_drop_rate,
        refunds_pending=args.refunds_pending,
        refund_failure_delay_seconds=args.refund_failure_delay,
        enforce_minimum_amounts=not args.no_minimum_amounts,
        seed=args.seed,
        public_url=args.public_url,
        state_file=args.state_file,
    )


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
    config = config_from_args(args, endpoints)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_stripe_sandbox(args.host, args.port, config)


if __name__ == "__main__":
    main()
