"""Supported carriers by name, and the report `wismo carriers parse` prints."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast

from wismo.domain.status import fold
from wismo.ingestion.carriers.base import CarrierError, CarrierModule, Tracking
from wismo.ingestion.carriers.normalise import normalise

_PACKAGE = "wismo.ingestion.carriers.parsers"


@cache
def modules() -> dict[str, CarrierModule]:
    """Carrier modules by name and by alias."""
    found: dict[str, CarrierModule] = {}
    package = importlib.import_module(_PACKAGE)
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module = cast(CarrierModule, importlib.import_module(f"{_PACKAGE}.{info.name}"))
        for name in (module.NAME, *getattr(module, "ALIASES", ())):
            if name in found:
                raise RuntimeError(f"carrier name {name!r} claimed twice")
            found[name] = module
    return found


def canonical_carrier(name: str) -> str:
    """One name per carrier across sources: "Canada Post", "canada-post" and "canadapost"
    are all `canadapost`; "DHL" is `dhl_express`. Storage matches carriers by this name,
    so a shop and an aggregator naming the carrier differently still meet. Unknown names
    are kept, lower-cased with underscores, never guessed."""
    key = "_".join(name.strip().lower().replace("-", " ").split())
    found = modules()
    for candidate in (key, key.replace("_", "")):
        if candidate in found:
            return found[candidate].NAME
    return key


def supported() -> list[str]:
    """Canonical names of the supported carriers."""
    return sorted({m.NAME for m in modules().values()})


def carrier(name: str) -> CarrierModule:
    module = modules().get(name.strip().lower())
    if module is None:
        raise CarrierError("unsupported", f"unsupported carrier: {name}")
    return module


def parse(name: str, body: bytes) -> list[Tracking]:
    """Every tracking number in one raw response of carrier `name`."""
    module = carrier(name)
    try:
        found = module.parse(body)
    except CarrierError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        # A response that is not the shape the carrier documents.
        raise CarrierError("unparseable", f"not a {name} tracking response ({exc})") from None
    if not found:
        raise CarrierError("not_found", "the response holds no tracking data")
    return found


def report(tracking: Tracking, received_at: datetime | None = None) -> dict[str, Any]:
    """The JSON `wismo carriers parse` prints for one tracking number."""
    events, _ = normalise(tracking, received_at or datetime.now(UTC))
    state = fold(events)
    return {
        "carrier": tracking.carrier,
        "tracking_number": tracking.tracking_number,
        "status": state.milestone.value if events else "unknown",
        "estimated_delivery": (
            tracking.estimated_delivery_at.isoformat() if tracking.estimated_delivery_at else None
        ),
        # In the carrier's own order, so a reader can put them beside the raw response.
        "events": [
            {
                "milestone": e.milestone.value,
                "reason": e.reason.value,
                "raw_code": e.raw_code,
                "description": e.description,
                "location": e.location.describe() if e.location else None,
                "occurred_at": e.occurred_at.isoformat(),
                "mapped_by": e.mapped_by,
            }
            for e in events
        ],
    }
