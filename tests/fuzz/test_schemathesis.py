"""Schemathesis against a real `payments-service serve` with PostgreSQL and the Stripe
sandbox: a valid key, every operation, every check (`--checks all`), every phase
(examples, coverage, fuzzing, and stateful runs along the document's links), a bounded
time budget. Zero failures, zero errors. What it finds is fixed in the service; what the
checks are told about the contract is in schemathesis.toml beside this file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from sandbox.runner import ServerThread
from tests.conftest import (
    API_KEY,
    PINGXX_CHANNELS,
    SANDBOX_PUBLISHABLE_KEY,
    SANDBOX_SECRET_KEY,
)
from tests.support.served import served

HERE = Path(__file__).parent
# Seconds of generated requests; `SCHEMATHESIS_MAX_TIME` runs it longer by hand.
BUDGET = os.environ.get("SCHEMATHESIS_MAX_TIME", "90")
SCHEMATHESIS = str(Path(sys.executable).parent / "st")


class TestSchemathesis:
    def test_every_operation_every_check_zero_failures(
        self,
        db: AsyncEngine,
        database_url: str,
        stripe_sandbox: ServerThread,
        webhook_secret: str,
        pingxx_values: dict[str, Any],
        tmp_path: Path,
    ) -> None:
        env = {
            **{f"PAYMENTS_{name.upper()}": str(value) for name, value in pingxx_values.items()},
            "PAYMENTS_ENABLED_CHANNELS": ",".join(["stripe", *PINGXX_CHANNELS]),
            "PAYMENTS_DATABASE_URL": database_url,
            "PAYMENTS_API_KEYS": API_KEY,
            "PAYMENTS_STRIPE_SECRET_KEY": SANDBOX_SECRET_KEY,
            "PAYMENTS_STRIPE_PUBLISHABLE_KEY": SANDBOX_PUBLISHABLE_KEY,
            "PAYMENTS_STRIPE_WEBHOOK_SECRETS": webhook_secret,
            "PAYMENTS_STRIPE_API_BASE": stripe_sandbox.url,
            "PAYMENTS_STRIPE_MAX_NETWORK_RETRIES": "0",
        }
        with served(env, tmp_path / "serve.log") as server:
            run = subprocess.run(
                [
                    SCHEMATHESIS,
                    "--config-file",
                    str(HERE / "schemathesis.toml"),
                    "run",
                    f"{server.url}/openapi.json",
                    "--checks",
                    "all",
                    "--header",
                    f"Authorization: Bearer {API_KEY}",
                    "--max-time",
                    BUDGET,
                    # One worker: CPython 3.11's AST validator is not safe across the
                    # threads hypothesis uses with several (a SystemError in the tool).
                    "--workers",
                    "1",
                    "--no-color",
                    "--report",
                    "junit",
                    "--report-dir",
                    str(tmp_path / "report"),
                ],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=int(BUDGET) + 300,
                check=False,
            )
            log = server.output()
        summary = run.stdout[-6000:]
        assert run.returncode == 0, f"{summary}\n--- server log ---\n{log[-4000:]}"
        assert " passed" in summary
        assert "Traceback" not in log, log[-4000:]
