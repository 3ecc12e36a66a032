"""`python -m bench.run`: throughput and latency of the API as a real process.

A fresh PostgreSQL database, the Stripe sandbox and `payments-service serve` are started for
the run and stopped (the database dropped) at the end, also on failure, Ctrl-C or SIGTERM.
The table is printed and written to bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.load import Result, Runner
from bench.scenarios import SCENARIOS, State
from bench.stack import Stack, cpu_seconds, sessions_opened, start_stack

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Options:
    scenarios: tuple[str, ...]
    concurrency: tuple[int, ...]
    requests: int
    warmup: int
    e2e_payments: int
    e2e_concurrency: int
    level_seconds: float
    max_seconds: float
    log_level: str
    workers: int
    api_env: dict[str, str]
    output: Path


def _csv_ints(value: str) -> tuple[int, ...]:
    numbers = tuple(int(v) for v in value.split(",") if v.strip())
    if not numbers or any(n < 1 or n > 256 for n in numbers):
        raise argparse.ArgumentTypeError("integers from 1 to 256, comma-separated")
    return numbers


def _csv_scenarios(value: str) -> tuple[str, ...]:
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {', '.join(SCENARIOS)}")
    return tuple(s for s in SCENARIOS if s in names)  # dependencies run first


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument(
        "--scenarios",
        type=_csv_scenarios,
        default=SCENARIOS,
        help=f"comma-separated, from {','.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument(
        "--concurrency",
        type=_csv_ints,
        default=(1, 8, 32),
        help="concurrency levels (default 1,8,32)",
    )
    parser.add_argument("--requests", type=int, default=300, help="per level (default 300)")
    parser.add_argument("--warmup", type=int, default=30, help="per scenario (default 30)")
    parser.add_argument("--e2e-payments", type=int, default=50)
    parser.add_argument("--e2e-concurrency", type=int, default=1)
    parser.add_argument(
        "--level-seconds",
        type=float,
        default=20.0,
        help="stop sending at one level after this long (default 20)",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=240.0,
        help="abort the whole run after this long (default 240)",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        help="the API's uvicorn and app log level (default warning: no access log)",
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (default 1)")
    parser.add_argument(
        "--api-env",
        action="append",
        default=[],
        metavar="PAYMENTS_X=VALUE",
        help="extra setting for the API, repeatable (e.g. PAYMENTS_DB_POOL_SIZE=32)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.md")
    args = parser.parse_args(argv)  # fmt: skip
    for name in ("requests", "e2e_payments", "e2e_concurrency"):
        if not 1 <= getattr(args, name) <= 100_000:
            parser.error(f"--{name.replace('_', '-')} must be between 1 and 100000")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if not 1 <= args.workers <= 8:
        parser.error("--workers must be between 1 and 8")
    api_env: dict[str, str] = {}
    for pair in args.api_env:
        key, sep, value = pair.partition("=")
        if not sep or not key.startswith("PAYMENTS_"):
            parser.error(f"--api-env takes PAYMENTS_NAME=VALUE, not {pair!r}")
        api_env[key] = value
    return Options(
        scenarios=args.scenarios,
        concurrency=args.concurrency,
        requests=args.requests,
        warmup=args.warmup,
        e2e_payments=args.e2e_payments,
        e2e_concurrency=args.e2e_concurrency,
        level_seconds=args.level_seconds,
        max_seconds=args.max_seconds,
        log_level=args.log_level,
        workers=args.workers,
        api_env=api_env,
        output=args.output,
    )


async def run_scenario(state: State, runner: Runner, name: str, o: Options) -> list[Result]:
    levels: tuple[int, ...]
    if name == "e2e":
        levels, per_level, warmup = (o.e2e_concurrency,), o.e2e_payments, min(o.warmup, 5)
    else:
        levels, per_level, warmup = o.concurrency, o.requests, o.warmup
    plan = await state.plan(name, warmup + per_level * len(levels))
    results: list[Result] = []
    async with plan.during():
        if warmup:
            warm = await runner.run(
                name, plan.items[:warmup], plan.send, min(8, max(levels)),
                max_seconds=o.level_seconds,
            )  # fmt: skip
            if warm.error_count:
                print(f"  warm-up errors: {dict(warm.errors)}", file=sys.stderr)
        for index, concurrency in enumerate(levels):
            start = warmup + index * per_level
            cpu_before = cpu_seconds(state.stack.api_pid)
            result = await runner.run(
                name, plan.items[start : start + per_level], plan.send, concurrency,
                max_seconds=o.level_seconds,
            )  # fmt: skip
            cpu_after = cpu_seconds(state.stack.api_pid)
            if name == "e2e":  # polls and confirms: CPU per payment would mislead
                result.client_cpu_seconds = None
            elif cpu_before is not None and cpu_after is not None:
                result.api_cpu_seconds = cpu_after - cpu_before
            print("  " + row(result), file=sys.stderr)
            results.append(result)
    return results


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


HEADER = (
    "| scenario | concurrency | requests | errors | req/s | p50 ms | p95 ms | p99 ms | max ms "
    "| API CPU ms/req | client CPU ms/req |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
)


def row(r: Result) -> str:
    requests = f"{r.completed}" + (f" ({r.skipped} not sent)" if r.skipped else "")
    return (
        f"| {r.scenario} | {r.concurrency} | {requests} | {r.error_count} | {r.throughput:.0f} | "
        f"{_ms(r.percentile_ms(50))} | {_ms(r.percentile_ms(95))} | {_ms(r.percentile_ms(99))} | "
        f"{_ms(r.percentile_ms(100))} | {_ms(r.api_cpu_ms_per_request)} | "
        f"{_ms(r.client_cpu_ms_per_request)} |"
    )


def _command_output(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def render(
    results: list[Result],
    o: Options,
    stack: Stack | None,
    seconds: float,
    note: str,
    load: tuple[float, float, float],
    sessions: int | None,
) -> str:
    commit = _command_output(["git", "rev-parse", "--short", "HEAD"])
    dirty = _command_output(["git", "status", "--porcelain", "--untracked-files=no"])
    facts = [
        f"date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; run took {seconds:.0f} s",
        f"machine: nproc {_command_output(['nproc'])}, {_cpu_model()}, "
        f"{platform.system()} {platform.release()}; load average before the run "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min)",
        f"Python {platform.python_version()}, PostgreSQL "
        f"{stack.server_version if stack else '?'}, commit {commit}"
        + (" (with uncommitted changes)" if dirty else ""),
        f"API: `payments-service serve --workers {o.workers}` (log level {o.log_level}"
        + "".join(f", {k}={v}" for k, v in o.api_env.items())
        + "), the Stripe sandbox in its own process; the load generator (httpx.AsyncClient, "
        "one process) shares the same cores",
        f"PostgreSQL sessions opened on the benchmark database: {sessions} (far above the "
        "pool size means per-request connections: SQLAlchemy closes returned overflow ones)",
        f"per level: {o.requests} requests after {o.warmup} warm-up requests per scenario; "
        f"e2e: {o.e2e_payments} payments at concurrency {o.e2e_concurrency}",
    ]
    lines = ["# Benchmark results", ""]
    if note:
        lines += [f"**{note}**", ""]
    lines += [f"- {fact}" for fact in facts] + ["", HEADER] + [row(r) for r in results]
    errors = [(r, kind, n) for r in results for kind, n in sorted(r.errors.items())]
    if errors:
        lines += ["", "Errors:", ""]
        lines += [f"- {r.scenario} @{r.concurrency}: {n} x {kind}" for r, kind, n in errors]
    lines += [
        "",
        "- create: POST /v1/payments, new order each, with an Idempotency-Key; includes the "
        "PaymentIntent create at the sandbox",
        "- create_replay: the same request and key again (stored response, no provider call)",
        "- get: GET /v1/payments/{id}",
        "- webhook: POST /v1/webhooks/stripe, signed `payment_intent.succeeded` events the "
        "sandbox generated (its own delivery off), each applied once",
        "- webhook_dup: the same events again (answered `duplicate`)",
        "- refund: POST /v1/payments/{id}/refunds, 100 of 2000 on succeeded payments; "
        "includes the refund at the sandbox",
        "- e2e: confirm at the sandbox (pm_card_visa) until GET shows `succeeded` through the "
        "sandbox's own webhook delivery (polled every 5 ms); req/s = payments per second",
    ]
    return "\n".join(lines) + "\n"


async def main_async(o: Options) -> int:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    started = time.monotonic()
    load = os.getloadavg()
    results: list[Result] = []
    stack: Stack | None = None
    note = ""
    code = 0
    sessions: int | None = None
    with tempfile.TemporaryDirectory(prefix="payments-bench-") as logs:
        async with contextlib.AsyncExitStack() as exits:
            try:
                async with asyncio.timeout(o.max_seconds):
                    print("starting PostgreSQL database, Stripe sandbox, API ...", file=sys.stderr)
                    stack = await start_stack(exits, Path(logs), o.log_level, o.workers, o.api_env)
                    state = State.open(stack)
                    exits.push_async_callback(state.aclose)
                    # The benchmark delivers webhooks itself; e2e turns the sandbox's back on.
                    await state.sandbox_config(webhook_drop_rate=1.0)
                    runner: Runner = Runner(
                        stack.api_url, {"Authorization": f"Bearer {stack.api_key}"}
                    )
                    for name in o.scenarios:
                        print(f"{name}:", file=sys.stderr)
                        results += await run_scenario(state, runner, name, o)
                    sessions = await sessions_opened(stack.database_url)
            except TimeoutError:
                note = f"Incomplete: stopped by --max-seconds {o.max_seconds:g}"
                code = 1
            except Exception as exc:
                note = f"Incomplete: {type(exc).__name__}: {exc}"
                code = 1
                for name in ("api", "sandbox"):
                    log = Path(logs) / f"{name}.log"
                    if log.exists():
                        tail = log.read_text(errors="replace").splitlines()[-20:]
                        print(f"--- {name} log (tail) ---", *tail, sep="\n", file=sys.stderr)
            finally:
                print("stopping the API and the sandbox, dropping the database", file=sys.stderr)
    if not results:
        print(note or "no results", file=sys.stderr)
        return code or 1
    table = render(results, o, stack, time.monotonic() - started, note, load, sessions)
    print(table)
    o.output.parent.mkdir(parents=True, exist_ok=True)
    o.output.write_text(table)
    print(f"written to {o.output}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    os.chdir(Path(__file__).resolve().parents[1])  # alembic/ and the app live here
    # Ctrl-C stops the run even where the shell started us with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return asyncio.run(main_async(options))
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        return 130
    except asyncio.CancelledError:
        print("terminated; everything started was stopped", file=sys.stderr)
        return 143


if __name__ == "__main__":
    raise SystemExit(main())
