"""Node, npm and tsc for the Stripe.js integration check, installed into this folder.

`package.json` pins @stripe/stripe-js and TypeScript and `package-lock.json` pins the rest;
`npm ci` installs them into `node_modules/` here (gitignored) the first time, or when the pins
change. Without node and npm the tests that need them skip, except in CI, where they fail:
CI has them, and a check that silently stops running is worse than none.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
NODE_MODULES = HERE / "node_modules"
TSC = NODE_MODULES / "typescript" / "bin" / "tsc"


def require(available: bool, what: str) -> None:
    """Skip when a tool is missing on a developer's machine; fail when it is missing in CI."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must have {what}")
    pytest.skip(f"not installed: {what}")


def node() -> str:
    found = shutil.which("node")
    require(found is not None and shutil.which("npm") is not None, "node and npm")
    assert found is not None
    return found


def _installed_matches_pins() -> bool:
    wanted: dict[str, str] = json.loads((HERE / "package.json").read_text())["devDependencies"]
    for name, version in wanted.items():
        manifest = NODE_MODULES / name / "package.json"
        if not manifest.exists() or json.loads(manifest.read_text())["version"] != version:
            return False
    return True


def ensure_installed() -> None:
    node()
    if _installed_matches_pins():
        return
    npm = shutil.which("npm")
    assert npm is not None
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=HERE,
        check=True,
        timeout=600,
    )


def tsc(
    *args: str, project: Path | None = HERE / "tsconfig.json"
) -> subprocess.CompletedProcess[str]:
    ensure_installed()
    command = [node(), str(TSC), *(["-p", str(project)] if project else []), *args]
    return subprocess.run(command, cwd=HERE, capture_output=True, text=True, timeout=300)


def compile_integration(out_dir: Path) -> Path:
    """`integration.ts` as the browser runs it: tsc's output, an ES module."""
    result = tsc("--outDir", str(out_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    return out_dir / "integration.js"
