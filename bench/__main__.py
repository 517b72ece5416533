"""Dispatcher: `python -m bench NAME [options]`.

A benchmark is a module in this package with `add_arguments(parser)` and `run(args) -> dict`;
registering it is one line in `REGISTRY`. Modules are imported only when chosen, so one
benchmark's heavy (or broken) imports never get in the way of another.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast


class Benchmark(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Entry:
    module: str
    help: str


REGISTRY: dict[str, Entry] = {
    "ingest": Entry("bench.ingest", "canonical tracking events through the full ingestion path"),
    "status": Entry("bench.status", "order-status answer by id on a filled database"),
    "http": Entry("bench.http", "single-event POST /v1/events against a uvicorn server"),
    "parse": Entry("bench.parse", "raw carrier responses to normalised scans and status"),
    "edd": Entry("bench.edd", "delivery-date prediction walked forward over Olist orders"),
    "sweep": Entry("bench.sweep", "one sweep of the due shipments among many open ones"),
    "page": Entry("bench.page", "server render of the customer tracking page, 100,000 orders"),
    "notify": Entry(
        "bench.notify", "relay workers to SMTP and SMS sinks, one killed: exactly once"
    ),
    "intents": Entry("bench.intents", "the agent's intents and entities on public utterance sets"),
    "agent": Entry("bench.agent", "agent turns in process on the demo store, no language model"),
}


def load(name: str) -> Benchmark:
    return cast(Benchmark, importlib.import_module(REGISTRY[name].module))


def build_parser(chosen: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Wismo benchmarks. The last line of output is the result as JSON.",
    )
    sub = parser.add_subparsers(dest="name", metavar="NAME", required=True)
    for name, entry in REGISTRY.items():
        p = sub.add_parser(name, help=entry.help, description=entry.help)
        if name == chosen:
            load(name).add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    first = args_in[0] if args_in else None
    if first is not None and not first.startswith("-") and first not in REGISTRY:
        # argparse would print usage plus an error; callers asked for one line.
        print(
            f"bench: unknown benchmark {first!r} (choose from {', '.join(REGISTRY)})",
            file=sys.stderr,
        )
        return 2
    chosen = first if first in REGISTRY else None
    args = build_parser(chosen).parse_args(args_in)
    result = load(args.name).run(args)
    print(json.dumps(_finite(result), allow_nan=False), flush=True)
    return 0


def _finite(value: Any) -> Any:
    """NaN (a percentile of no samples, say) as null: bare NaN is not valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
