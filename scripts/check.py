"""Run every check the project holds itself to, in the order a reviewer would:
lint, format, types, import contracts, then the test suite (pytest's summary is last).

Usage: .venv/bin/python scripts/check.py [extra pytest args]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*cmd: str) -> int:
    print(f"$ {' '.join(cmd)}", flush=True)
    return subprocess.call(cmd, cwd=ROOT)  # noqa: S603 - our own fixed tool list


def main() -> int:
    failed = [
        name
        for name, cmd in (
            ("ruff", (str(BIN / "ruff"), "check", "src", "tests", "bench", "scripts")),
            (
                "format",
                (str(BIN / "ruff"), "format", "--check", "src", "tests", "bench", "scripts"),
            ),
            ("mypy", (str(BIN / "mypy"),)),
            ("import contracts", (str(BIN / "lint-imports"),)),
        )
        if run(*cmd) != 0
    ]
    if failed:
        print(f"checks failed: {', '.join(failed)}", flush=True)
    tests = run(sys.executable, "-m", "pytest", *sys.argv[1:])
    return 1 if failed or tests else 0


if __name__ == "__main__":
    sys.exit(main())
