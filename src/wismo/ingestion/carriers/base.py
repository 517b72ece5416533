"""What every carrier module produces, and the errors it raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from wismo.domain.model import Location


class CarrierError(Exception):
    """A response that is not tracking data: the carrier said no, or we cannot read it.

    `kind` is one of: not_found, unauthorized, rate_limited, carrier_error, unparseable,
    unsupported.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass(frozen=True, slots=True)
class Scan:
    """One event as the carrier reported it, before normalisation.

    `codes` are the lookup keys to try in the carrier's code table, most specific first
    (e.g. UPS: "D:FS" then "D"); `raw_code` is the code shown to people.
    """

    occurred_at: datetime  # aware: carrier local times get their zone, never a guessed UTC
    codes: tuple[str, ...] = ()
    raw_code: str | None = None
    description: str | None = None
    location: Location | None = None
    occurred_tz: str | None = None


@dataclass(frozen=True, slots=True)
class Tracking:
    """One tracking number's worth of a carrier response."""

    carrier: str
    tracking_number: str
    scans: tuple[Scan, ...]
    estimated_delivery_at: datetime | None = None
    service: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class CarrierModule(Protocol):
    """A carrier's mapping module: pure, no I/O."""

    NAME: str
    DISPLAY_NAME: str

    def parse(self, body: bytes) -> list[Tracking]:
        """Read one raw tracking response; raise `CarrierError` for anything else."""
        ...
