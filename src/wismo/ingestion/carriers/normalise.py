"""Carrier scans -> Wismo tracking events: code table first, then the message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wismo.domain.milestones import Milestone, Reason
from wismo.domain.model import TrackingEvent
from wismo.ingestion.carriers.base import Scan, Tracking
from wismo.ingestion.carriers.classifier import classify
from wismo.ingestion.carriers.mapping import canonical_code, table_for


@dataclass(frozen=True, slots=True)
class Unmapped:
    carrier: str
    code: str
    message: str | None


def normalise_scan(
    carrier: str, scan: Scan, received_at: datetime, source: str
) -> tuple[TrackingEvent, Unmapped | None]:
    """One scan as a Wismo event, and the unknown code if the message had to decide.

    `mapped_by` on the event says how the milestone was found: "code", "message" (the code
    was unknown or absent and the classifier read the text) or "unmapped" (neither helped).
    """
    found = table_for(carrier).lookup(scan.codes) if scan.codes else None
    unmapped: Unmapped | None = None
    if found is not None:
        mapped, _ = found
        milestone, reason, mapped_by = mapped.milestone, mapped.reason, "code"
    else:
        guess = classify(scan.description)
        if guess is not None:
            milestone, reason, mapped_by = guess.milestone, guess.reason, "message"
        else:
            milestone, reason, mapped_by = Milestone.UNKNOWN, Reason.NONE, "unmapped"
        if scan.codes:
            unmapped = Unmapped(carrier, canonical_code(scan.codes[0]), scan.description)
    event = TrackingEvent(
        milestone=milestone,
        reason=reason,
        occurred_at=scan.occurred_at,
        occurred_tz=scan.occurred_tz,
        source=source,
        received_at=received_at,
        raw_code=scan.raw_code or (scan.codes[0] if scan.codes else None),
        description=scan.description,
        location=scan.location,
        mapped_by=mapped_by,
    )
    return event, unmapped


def normalise(
    tracking: Tracking, received_at: datetime, source: str | None = None
) -> tuple[list[TrackingEvent], list[Unmapped]]:
    events: list[TrackingEvent] = []
    unmapped: list[Unmapped] = []
    for scan in tracking.scans:
        event, miss = normalise_scan(
            tracking.carrier, scan, received_at, source or f"carrier:{tracking.carrier}"
        )
        events.append(event)
        if miss is not None:
            unmapped.append(miss)
    return events, unmapped
