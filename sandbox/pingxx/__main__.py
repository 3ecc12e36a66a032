"""`python -m sandbox.pingxx --port 12112 --webhook-url URL --merchant-public-key FILE`"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from sandbox.pingxx import signing
from sandbox.pingxx.config import DEFAULT_APP_ID, PingxxSandboxConfig
from sandbox.pingxx.state import stored_webhook_key
from sandbox.runner import run_pingxx_sandbox


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.pingxx", description="Offline Ping++ API sandbox"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12112)
    parser.add_argument("--secret-key", default="sk_test_sandbox")
    parser.add_argument(
        "--app-id", action="append", default=[], help=f"repeatable (default {DEFAULT_APP_ID})"
    )
    parser.add_argument(
        "--merchant-public-key",
        type=Path,
        default=None,
        help="PEM file; when given, POST requests must carry Pingplusplus-Signature",
    )
    parser.add_argument("--verify-get-signatures", action="store_true")
    parser.add_argument(
        "--webhook-private-key",
        type=Path,
        default=None,
        help="PEM file the sandbox signs webhooks with (generated when missing)",
    )
    parser.add_argument(
        "--webhook-public-key-out",
        type=Path,
        default=None,
        help="write the webhook public key (PEM) here, for the receiving service",
    )
    parser.add_argument("--webhook-url", action="append", default=[], help="repeatable")
    parser.add_argument("--webhook-retry-base", type=float, default=2.0, help="seconds")
    parser.add_argument("--webhook-max-attempts", type=int, default=8)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--webhook-drop-rate", type=float, default=0.0)
    parser.add_argument("--refunds-pending", action="store_true")
    parser.add_argument("--emit-refund-failed", action="store_true")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--public-url", default=None, help="base URL browsers use to reach us")
    parser.add_argument("--state-file", default=None, help="JSON snapshot kept across restarts")
    return parser


def build_config(args: argparse.Namespace) -> PingxxSandboxConfig:
    return PingxxSandboxConfig(
        secret_key=args.secret_key,
        app_ids=args.app_id or [DEFAULT_APP_ID],
        merchant_public_key=(
            args.merchant_public_key.read_text() if args.merchant_public_key else None
        ),
        verify_get_signatures=args.verify_get_signatures,
        webhook_private_key=(
            args.webhook_private_key.read_text()
            if args.webhook_private_key and args.webhook_private_key.exists()
            else None
        ),
        webhook_urls=args.webhook_url,
        webhook_retry_base_seconds=args.webhook_retry_base,
        webhook_max_attempts=args.webhook_max_attempts,
        latency_ms=args.latency_ms,
        failure_rate=args.failure_rate,
        webhook_drop_rate=args.webhook_drop_rate,
        refunds_pending=args.refunds_pending,
        emit_refund_failed=args.emit_refund_failed,
        seed=args.seed,
        public_url=args.public_url,
        state_file=args.state_file,
    )


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    config = build_config(args)
    # Settle the webhook key before serving, so the public half printed here is the one the
    # server signs with and the receiving service's copy stays valid across restarts.
    if config.webhook_private_key is None:
        config.webhook_private_key = stored_webhook_key(config.state_file) or (
            signing.private_key_pem(signing.generate_private_key())
        )
        if args.webhook_private_key:
            args.webhook_private_key.write_text(config.webhook_private_key)
    public_key = signing.public_key_pem(signing.load_private_key(config.webhook_private_key))
    if args.webhook_public_key_out:
        args.webhook_public_key_out.write_text(public_key)
    print(f"webhooks are signed with the key whose public half is:\n{public_key}", file=sys.stderr)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_pingxx_sandbox(args.host, args.port, config)


if __name__ == "__main__":
    main()
