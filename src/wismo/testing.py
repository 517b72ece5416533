"""Helpers for tests of Wismo and of code built on it: a settable clock and builders of
canonical events (as the JSON bytes a source would send).

Shipped inside the package so that integrators can write their own tests with them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

_ids = itertools.count(1)


@dataclass
class FakeClock:
    """A clock tests move by hand; starts at a fixed instant so runs are repeatable."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 28, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


def iso(moment: datetime) -> str:
    return moment.isoformat()


def envelope(
    type_: str, data: dict[str, Any], *, source: str = "test", id_: str | None = None
) -> dict[str, Any]:
    return {
        "version": 1,
        "id": id_ or f"evt-{next(_ids)}",
        "source": source,
        "type": type_,
        "data": data,
    }


def encode(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)


def order_created(
    order_number: str,
    *,
    placed_at: datetime,
    lines: list[tuple[str, str, int]] | None = None,
    email: str | None = "ada@example.com",
    postal_code: str | None = "10001",
    promised: tuple[str | None, str] | None = None,
    status: str = "confirmed",
    updated_at: datetime | None = None,
    customer_external_id: str | None = None,
    currency: str = "USD",
    **extra: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "order_number": order_number,
        "placed_at": iso(placed_at),
        "currency": currency,
        "status": status,
        "lines": [
            {"line_ref": ref, "title": title, "quantity": qty}
            for ref, title, qty in (lines or [("L1", "Blue mug", 1)])
        ],
        "email": email,
        "shipping_address": {"postal_code": postal_code, "country": "US"},
        **extra,
    }
    if updated_at is not None:
        data["updated_at"] = iso(updated_at)
    if customer_external_id:
        data["customer_external_id"] = customer_external_id
    if promised is not None:
        data["promised_delivery"] = {"from_on": promised[0], "to_on": promised[1]}
    return envelope("order.created", data, source="shop")


def shipment_created(
    order_number: str,
    shipment_ref: str,
    *,
    created_at: datetime,
    carrier: str = "ups",
    tracking_number: str | None = None,
    lines: list[tuple[str, int]] | None = None,
    estimated_delivery_at: datetime | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "order_number": order_number,
        "shipment_ref": shipment_ref,
        "carrier": carrier,
        "tracking_number": tracking_number or f"1Z{shipment_ref.upper():0>16}"[:18],
        "created_at": iso(created_at),
        "lines": [{"line_ref": r, "quantity": q} for r, q in (lines or [("L1", 1)])],
    }
    if estimated_delivery_at is not None:
        data["estimated_delivery_at"] = iso(estimated_delivery_at)
    return envelope("shipment.created", data, source="wms")


def tracking(
    milestone: str,
    occurred_at: datetime | str,
    *,
    shipment_ref: str | None = None,
    carrier: str | None = None,
    tracking_number: str | None = None,
    reason: str | None = None,
    raw_code: str | None = None,
    description: str | None = None,
    city: str | None = None,
    estimated_delivery_at: datetime | None = None,
    id_: str | None = None,
    source: str = "carrier",
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "milestone": milestone,
        "occurred_at": occurred_at if isinstance(occurred_at, str) else iso(occurred_at),
    }
    for key, value in (
        ("shipment_ref", shipment_ref),
        ("carrier", carrier),
        ("tracking_number", tracking_number),
        ("reason", reason),
        ("raw_code", raw_code),
        ("description", description),
    ):
        if value is not None:
            data[key] = value
    if city:
        data["location"] = {"city": city, "country": "US"}
    if estimated_delivery_at is not None:
        data["estimated_delivery_at"] = iso(estimated_delivery_at)
    return envelope("tracking.event", data, source=source, id_=id_)
