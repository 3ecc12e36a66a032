"""`make mutate`: apply each curated mutant alone to a scratch copy of the tree, run the
tests that cover it, and say whether they caught it. Not part of `make test` (it takes
about as long as the suite runs, a few times over); run it after changing a guard of an
invariant, and add a mutant with each new invariant (see mutation/mutants.py).

    python -m mutation.run                 # every mutant
    python -m mutation.run refund-cap-in-python no-expiry   # some, by name
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mutation.mutants import MUTANTS, Mutant

ROOT = Path(__file__).resolve().parents[1]
PER_MUTANT_TIMEOUT = 600


def copy_tree(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        relative = Path(raw.decode())
        source = ROOT / relative
        if source.is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)


def apply(mutant: Mutant, tree: Path) -> dict[Path, str]:
    """The mutant's edits; returns the originals to restore."""
    originals: dict[Path, str] = {}
    for edit in mutant.edits:
        path = tree / edit.path
        text = originals.setdefault(path, path.read_text())
        current = path.read_text()
        count = current.count(edit.old)
        if count != 1:
            raise SystemExit(
                f"mutant {mutant.name}: {edit.path} holds its text {count} times, not once; "
                "update mutation/mutants.py"
            )
        path.write_text(current.replace(edit.old, edit.new))
        originals[path] = text
    return originals


def run_tests(tree: Path, tests: tuple[str, ...]) -> tuple[bool, float, str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.monotonic()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=PER_MUTANT_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return False, time.monotonic() - started, "timed out"
    tail = "\n".join(result.stdout.strip().splitlines()[-3:])
    return result.returncode == 0, time.monotonic() - started, tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="only these mutants")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if not args.names or m.name in args.names]
    unknown = set(args.names) - {m.name for m in MUTANTS}
    if unknown:
        raise SystemExit(f"no such mutants: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(prefix="mutate-") as scratch:
        tree = Path(scratch)
        copy_tree(tree)
        tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
        print(f"baseline: the {len(tests)} test selections on the unmutated tree ...", flush=True)
        passed, took, tail = run_tests(tree, tests)
        if not passed:
            print(tail)
            raise SystemExit("the tests fail without any mutant: fix that first")
        print(f"baseline passed in {took:.0f} s\n", flush=True)
        survivors: list[str] = []
        for mutant in chosen:
            originals = apply(mutant, tree)
            try:
                passed, took, tail = run_tests(tree, mutant.tests)
            finally:
                for path, text in originals.items():
                    path.write_text(text)
            verdict = "SURVIVED" if passed else "killed"
            print(f"{verdict:8}  {mutant.name:36} {took:5.0f} s  {mutant.why}", flush=True)
            if passed:
                survivors.append(mutant.name)
        killed = len(chosen) - len(survivors)
        print(f"\n{killed} of {len(chosen)} killed ({100 * killed / len(chosen):.0f} %)")
        if survivors:
            print("survived: " + ", ".join(survivors))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
