"""Run Alembic programmatically (the `migrate` command, `dev`, tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic.config import Config

from alembic import command


def alembic_dir() -> Path:
    """Beside the `app` package in a checkout; the working directory in the image."""
    for candidate in (Path(__file__).resolve().parents[2] / "alembic", Path.cwd() / "alembic"):
        if (candidate / "env.py").exists():
            return candidate
    raise FileNotFoundError("no alembic/ directory beside the app or in the working directory")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(alembic_dir()))
    config.attributes["database_url"] = url
    return config


async def upgrade_to_head(url: str) -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")


async def downgrade_to_base(url: str) -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
