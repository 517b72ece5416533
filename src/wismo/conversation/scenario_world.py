"""The scenarios' world: a store with customers and orders, read from YAML, as canonical events.

Times in the file are relative to the moment a run starts (`-3d`, `-2d4h`, `-90m`, `+1d`),
so the same file gives "out for delivery today" and "late" whenever it runs. The world is
only ever turned into canonical events (docs/events.md): the runner feeds them through the
normal ingestion path, so the agent reads a record built exactly as a live store's is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from wismo.testing import encode, envelope

_RELATIVE = re.compile(r"^([+-])?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


class WorldError(ValueError):
    """The world file is malformed; the message names the file and the field."""


def relative(text: object, where: str) -> timedelta:
    """`-3d`, `-2d4h`, `+90m`, `0d` as a signed duration; WorldError names `where`."""
    match = _RELATIVE.match(str(text).strip()) if text is not None else None
    if not match or not any(match.group(i) for i in (2, 3, 4)):
        raise WorldError(f"{where}: {text!r} is not a relative time like -3d, -2d4h, +90m")
    sign = -1 if match.group(1) == "-" else 1
    days, hours, minutes = (int(match.group(i) or 0) for i in (2, 3, 4))
    return sign * timedelta(days=days, hours=hours, minutes=minutes)


@dataclass(frozen=True, slots=True)
class StoreSpec:
    slug: str
    name: str
    country: str
    time_zone: str
    order_patterns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CustomerSpec:
    id: str
    name: str
    email: str | None
    phone: str | None
    language: str | None


@dataclass(frozen=True, slots=True)
class OrderSpec:
    number: str
    customer: CustomerSpec
    raw: Mapping[str, Any]  # the file's mapping, validated; turned into events at run time
    scan_cities: tuple[str, ...]  # every city of every scan, for the disclosure measure


@dataclass(frozen=True, slots=True)
class World:
    path: Path
    store: StoreSpec
    customers: Mapping[str, CustomerSpec]
    orders: Mapping[str, OrderSpec] = field(default_factory=dict)

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.store.time_zone)

    def owner_of(self, order_number: str) -> str | None:
        order = self.orders.get(order_number)
        return order.customer.id if order else None

    def events(self, now: datetime) -> list[bytes]:
        """The whole world as canonical events, times resolved against `now`."""
        out: list[bytes] = []
        for c in self.customers.values():
            data: dict[str, Any] = {"external_id": c.id, "name": c.name}
            data["emails"] = [c.email] if c.email else []
            data["phones"] = [c.phone] if c.phone else []
            if c.language:
                data["language"] = c.language
            out.append(encode(envelope("customer.upserted", data, source="crm", id_=c.id)))
        for o in self.orders.values():
            out.extend(encode(e) for e in _order_events(o, now, self.zone()))
        return out


def load_world(path: Path) -> World:
    """Read and check a world file; WorldError names the file and the field."""
    where = str(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WorldError(f"{where}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise WorldError(f"{where}: not valid YAML: {exc}") from None
    doc = _mapping(doc, where, {"store", "customers", "orders"}, required={"store", "orders"})
    s = _mapping(
        doc["store"],
        f"{where}: store",
        {"slug", "name", "country", "time_zone", "order_patterns"},
        required={"slug", "name", "country", "time_zone"},
    )
    try:
        ZoneInfo(str(s["time_zone"]))
    except (ZoneInfoNotFoundError, ValueError):
        raise WorldError(f"{where}: store.time_zone: unknown zone {s['time_zone']!r}") from None
    patterns = tuple(
        str(p) for p in _list(s.get("order_patterns", []), f"{where}: store.order_patterns")
    )
    for i, p in enumerate(patterns):
        try:
            re.compile(p)
        except re.error as exc:
            raise WorldError(f"{where}: store.order_patterns[{i}]: bad pattern: {exc}") from None
    store = StoreSpec(
        str(s["slug"]), str(s["name"]), str(s["country"]), str(s["time_zone"]), patterns
    )
    customers: dict[str, CustomerSpec] = {}
    for i, raw in enumerate(_list(doc.get("customers", []), f"{where}: customers")):
        at = f"{where}: customers[{i}]"
        c = _mapping(raw, at, {"id", "name", "email", "phone", "language"}, required={"id", "name"})
        if str(c["id"]) in customers:
            raise WorldError(f"{at}.id: {c['id']!r} appears twice")
        customers[str(c["id"])] = CustomerSpec(
            str(c["id"]),
            str(c["name"]),
            _opt(c.get("email")),
            _opt(c.get("phone")),
            _opt(c.get("language")),
        )
    orders: dict[str, OrderSpec] = {}
    for i, raw in enumerate(_list(doc["orders"], f"{where}: orders")):
        order = _order(raw, f"{where}: orders[{i}]", customers)
        if order.number in orders:
            raise WorldError(f"{where}: orders[{i}].number: {order.number!r} appears twice")
        orders[order.number] = order
    return World(path, store, customers, orders)


_ORDER_KEYS = {
    "number", "customer", "placed", "postal_code", "city", "promised", "total", "currency",
    "lines", "shipments", "cancelled", "returns", "refunds", "email", "phone",
}  # fmt: skip
_SHIPMENT_KEYS = {"ref", "carrier", "tracking", "created", "lines", "scans", "eta"}
_SCAN_KEYS = {"milestone", "at", "city", "country", "reason", "description", "eta"}
_RETURN_KEYS = {"ref", "state", "updated", "reason", "lines", "carrier", "tracking"}
_REFUND_KEYS = {
    "ref", "amount", "currency", "state", "updated", "processed", "method", "return_ref",
    "expected_by",
}  # fmt: skip


def _order(raw: object, at: str, customers: Mapping[str, CustomerSpec]) -> OrderSpec:
    o = _mapping(raw, at, _ORDER_KEYS, required={"number", "customer", "placed", "lines"})
    customer = customers.get(str(o["customer"]))
    if customer is None:
        raise WorldError(f"{at}.customer: no customer {o['customer']!r} in customers")
    relative(o["placed"], f"{at}.placed")
    for j, line in enumerate(_list(o["lines"], f"{at}.lines")):
        if not isinstance(line, list) or len(line) not in (3, 4):
            raise WorldError(f"{at}.lines[{j}]: expected [ref, title, quantity, unit_price?]")
    if "promised" in o:
        promised = _list(o["promised"], f"{at}.promised")
        if len(promised) != 2:
            raise WorldError(f"{at}.promised: expected [from, to] like [+1d, +3d]")
        for j, p in enumerate(promised):
            relative(p, f"{at}.promised[{j}]")
    cities: list[str] = []
    for j, sh in enumerate(_list(o.get("shipments", []), f"{at}.shipments")):
        where = f"{at}.shipments[{j}]"
        s = _mapping(sh, where, _SHIPMENT_KEYS, required={"ref", "carrier", "created"})
        relative(s["created"], f"{where}.created")
        for k, scan in enumerate(_list(s.get("scans", []), f"{where}.scans")):
            parsed = _scan(scan, f"{where}.scans[{k}]")
            if parsed.get("city"):
                cities.append(str(parsed["city"]))
    if "cancelled" in o:
        c = _mapping(o["cancelled"], f"{at}.cancelled", {"at", "reason"}, required={"at"})
        relative(c["at"], f"{at}.cancelled.at")
    for j, r in enumerate(_list(o.get("returns", []), f"{at}.returns")):
        m = _mapping(r, f"{at}.returns[{j}]", _RETURN_KEYS, required={"ref", "state", "updated"})
        relative(m["updated"], f"{at}.returns[{j}].updated")
    for j, r in enumerate(_list(o.get("refunds", []), f"{at}.refunds")):
        m = _mapping(
            r, f"{at}.refunds[{j}]", _REFUND_KEYS, required={"ref", "amount", "state", "updated"}
        )
        for key in ("updated", "processed"):
            if key in m:
                relative(m[key], f"{at}.refunds[{j}].{key}")
    return OrderSpec(str(o["number"]), customer, o, tuple(cities))


def _scan(raw: object, at: str) -> dict[str, Any]:
    if isinstance(raw, list):
        if len(raw) != 3:
            raise WorldError(f"{at}: expected [milestone, at, city] or a mapping")
        raw = {"milestone": raw[0], "at": raw[1], "city": raw[2]}
    scan = _mapping(raw, at, _SCAN_KEYS, required={"milestone", "at"})
    relative(scan["at"], f"{at}.at")
    if "eta" in scan:
        relative(scan["eta"], f"{at}.eta")
    return scan


def _order_events(o: OrderSpec, now: datetime, zone: ZoneInfo) -> list[dict[str, Any]]:
    raw, number, c = o.raw, o.number, o.customer

    def at(value: object) -> str:
        return (now + relative(value, number)).isoformat()

    def on(value: object) -> str:
        return _local_date(now + relative(value, number), zone).isoformat()

    def eid(kind: str) -> str:
        return f"{number}-{kind}"

    lines = []
    for line in raw["lines"]:
        entry: dict[str, Any] = {"line_ref": line[0], "title": line[1], "quantity": line[2]}
        if len(line) == 4:
            entry["unit_price"] = str(line[3])
        lines.append(entry)
    data: dict[str, Any] = {
        "order_number": number,
        "placed_at": at(raw["placed"]),
        "currency": str(raw.get("currency", "USD")),
        "status": "confirmed",
        "lines": lines,
        "customer_external_id": c.id,
        "email": raw.get("email", c.email),
        "phone": raw.get("phone", c.phone),
        "shipping_address": {
            "name": c.name,
            "city": raw.get("city"),
            "postal_code": raw.get("postal_code"),
            "country": "US",
        },
    }
    if "total" in raw:
        data["total"] = str(raw["total"])
    if "promised" in raw:
        data["promised_delivery"] = {
            "from_on": on(raw["promised"][0]),
            "to_on": on(raw["promised"][1]),
        }
    events = [envelope("order.created", data, source="shop", id_=eid("created"))]
    if "cancelled" in raw:
        cancelled = {"order_number": number, "cancelled_at": at(raw["cancelled"]["at"])}
        if raw["cancelled"].get("reason"):
            cancelled["reason"] = str(raw["cancelled"]["reason"])
        events.append(envelope("order.cancelled", cancelled, source="shop", id_=eid("cancelled")))
    for sh in raw.get("shipments", []):
        # Shipment references are unique in a store, not in an order.
        ref = f"{number}-{sh['ref']}"
        shipment: dict[str, Any] = {
            "order_number": number,
            "shipment_ref": ref,
            "carrier": str(sh["carrier"]),
            "created_at": at(sh["created"]),
            "lines": [{"line_ref": r, "quantity": q} for r, q in sh.get("lines", [])],
        }
        if sh.get("tracking"):
            shipment["tracking_number"] = str(sh["tracking"])
        if sh.get("eta"):
            shipment["estimated_delivery_at"] = at(sh["eta"])
        events.append(envelope("shipment.created", shipment, source="wms", id_=eid(ref)))
        for k, scan_raw in enumerate(sh.get("scans", [])):
            scan = _scan(scan_raw, number)
            t: dict[str, Any] = {
                "order_number": number,
                "shipment_ref": ref,
                "carrier": str(sh["carrier"]),
                "milestone": str(scan["milestone"]),
                "occurred_at": at(scan["at"]),
            }
            if scan.get("city"):
                t["location"] = {
                    "city": str(scan["city"]),
                    "country": str(scan.get("country", "US")),
                }
            for key in ("reason", "description"):
                if scan.get(key):
                    t[key] = str(scan[key])
            if scan.get("eta"):
                t["estimated_delivery_at"] = at(scan["eta"])
            events.append(envelope("tracking.event", t, source="carrier", id_=eid(f"{ref}-{k}")))
    for r in raw.get("returns", []):
        ret: dict[str, Any] = {
            "order_number": number,
            "return_ref": str(r["ref"]),
            "state": str(r["state"]),
            "updated_at": at(r["updated"]),
            "lines": [{"line_ref": ref, "quantity": q} for ref, q in r.get("lines", [])],
        }
        for key, name in (
            ("reason", "reason"),
            ("carrier", "carrier"),
            ("tracking", "tracking_number"),
        ):
            if r.get(key):
                ret[name] = str(r[key])
        events.append(envelope("return.created", ret, source="shop", id_=eid(f"return-{r['ref']}")))
    for r in raw.get("refunds", []):
        refund: dict[str, Any] = {
            "order_number": number,
            "refund_ref": str(r["ref"]),
            "amount": str(r["amount"]),
            "currency": str(r.get("currency", raw.get("currency", "USD"))),
            "state": str(r["state"]),
            "updated_at": at(r["updated"]),
            "method": str(r.get("method", "original_payment")),
        }
        if r.get("processed"):
            refund["processed_at"] = at(r["processed"])
        if r.get("expected_by"):
            refund["expected_by_on"] = on(r["expected_by"])
        if r.get("return_ref"):
            refund["return_ref"] = str(r["return_ref"])
        events.append(
            envelope("refund.created", refund, source="shop", id_=eid(f"refund-{r['ref']}"))
        )
    return events


def _local_date(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _mapping(
    value: object,
    where: str,
    allowed: set[str],
    *,
    required: Iterable[str] = (),
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WorldError(f"{where}: expected a mapping, got {type(value).__name__}")
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise WorldError(
            f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})"
        )
    missing = sorted(set(required) - set(value))
    if missing:
        raise WorldError(f"{where}: missing field {missing[0]!r}")
    return value


def _list(value: object, where: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise WorldError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
