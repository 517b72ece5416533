"""`python -m bench edd --orders FILE --cutoff DATE`: delivery-date prediction, walk-forward.

Reads orders in the Olist CSV layout (order_purchase_timestamp, order_approved_at,
order_delivered_carrier_date, order_delivered_customer_date, order_estimated_delivery_date,
customer_state, seller_state, ...). An order is *placed* at its purchase time, or, where the
file lacks it, at its approval time (approval follows purchase within hours).

The walk replays time as production would: every order is forecast when it is placed, and
again when handed to the carrier; a delivered order is learned (and its forecasts resolved
for the window calibrators) at the moment it is delivered. So a forecast knows exactly the
deliveries completed before it was made. Orders placed before `--cutoff` only warm the
model up; orders placed on or after it are scored. Orders never delivered or lacking dates
are excluded from the scoring (the count is printed), as are deliveries before placement.

The lane is seller state -> customer state where the file has them (about 15% of rows); every
order also carries the merchant's promised date (order_estimated_delivery_date), known at
checkout and set by Olist from the distance: the estimator scales the history to its lead
(`promised=`), and the lead in 3-day buckets is also the lane's segment hint. Each order is
noted as under way when placed and again when handed over (`note_in_flight`), so the
estimator can count parcels not yet delivered as censored. For reference the
result also gives a rolling median's MAE (last 500 deliveries, calendar days from placement),
the coverage and median width of its 80% window (their 10th to 90th percentiles), and the
MAE after handover of the rolling median of the last 500 handover-to-delivery legs: judge
the estimator by its ratio to these, which the same run measures.

Error is the absolute number of calendar days between the predicted and the actual delivery
date, both in the customer's local calendar (Olist timestamps are Brazilian local time).
Business days follow the customer state's public holidays.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench._common import Progress
from wismo.domain.estimate import (
    HANDOVER,
    ORDER,
    BusinessCalendar,
    DeliveryEstimator,
    Forecast,
    Lane,
    Window,
    quantile,
)
from wismo.services.estimate import calendar_for

DEFAULT_ORDERS = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "olist"
    / "olist_orders_until_2018-04-15.csv"
)
PROMISE_BUCKET_DAYS = 3
BASELINE_RECENT = 500


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--orders", type=Path, default=DEFAULT_ORDERS, help="Olist orders CSV")
    parser.add_argument(
        "--cutoff",
        type=date.fromisoformat,
        default=date(2018, 3, 1),
        help="score orders placed on or after this date (YYYY-MM-DD)",
    )
    parser.add_argument("--country", default="BR", help="destination country for holidays")


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    placed: datetime
    handed_over: datetime | None
    delivered: datetime | None
    merchant_estimate: date | None
    lane: Lane


def _when(text: str) -> datetime | None:
    text = text.strip()
    return datetime.fromisoformat(text) if text else None  # naive: local Brazilian time


def read_orders(path: Path) -> tuple[list[Order], int]:
    """Orders with a placement time, and how many rows had none."""
    orders: list[Order] = []
    undated = 0
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            placed = _when(row["order_purchase_timestamp"]) or _when(row["order_approved_at"])
            if placed is None:
                undated += 1
                continue
            estimate = _when(row["order_estimated_delivery_date"])
            delivered = _when(row["order_delivered_customer_date"])
            if row["order_status"] != "delivered":
                delivered = None
            orders.append(
                Order(
                    order_id=row["order_id"],
                    placed=placed,
                    handed_over=_when(row["order_delivered_carrier_date"]),
                    delivered=delivered,
                    merchant_estimate=estimate.date() if estimate else None,
                    lane=Lane(
                        origin=row["seller_state"] or None,
                        destination=row["customer_state"] or None,
                        segment=_promise(placed, estimate),
                    ),
                )
            )
    return orders, undated


def _promise(placed: datetime, estimate: datetime | None) -> str | None:
    """The merchant's promised lead time, in 3-day buckets: known when the order is placed,
    and set by the store from the distance, so a proxy for the lane where states are unknown."""
    if estimate is None:
        return None
    return f"promise:{max(0, (estimate.date() - placed.date()).days) // PROMISE_BUCKET_DAYS}"


# Event kinds, in the order they are handled at the same instant: a forecast at time t knows
# only deliveries completed strictly before t.
_FORECAST, _HANDOVER, _DELIVERED = 0, 1, 2


def run(args: argparse.Namespace) -> dict[str, Any]:
    say = Progress()
    orders, undated = read_orders(args.orders)
    cutoff = datetime.combine(args.cutoff, datetime.min.time())
    say(f"{len(orders)} orders with a placement time from {args.orders} ({undated} without)")
    years = range(min(o.placed.year for o in orders) - 1, max(o.placed.year for o in orders) + 2)
    calendars: dict[str | None, BusinessCalendar] = {}

    def calendar(lane: Lane) -> BusinessCalendar:
        key = lane.destination
        if key not in calendars:
            calendars[key] = calendar_for(args.country, key, years)
        return calendars[key]

    events: list[tuple[datetime, int, int]] = []
    for index, order in enumerate(orders):
        events.append((order.placed, _FORECAST, index))
        if order.handed_over is not None and order.handed_over >= order.placed:
            events.append((order.handed_over, _HANDOVER, index))
        if order.delivered is not None:
            events.append((order.delivered, _DELIVERED, index))
    events.sort()

    estimator = DeliveryEstimator()
    forecasts: dict[int, list[Forecast]] = {}
    scored: dict[int, dict[str, Forecast]] = {}
    bad = 0
    reference = _Reference()
    started = time.perf_counter()
    for at, kind, index in events:
        order = orders[index]
        cal = calendar(order.lane)
        if kind == _DELIVERED:
            assert order.delivered is not None
            if not estimator.observe(
                order.lane,
                cal,
                placed=order.placed,
                delivered=order.delivered,
                handed_over=order.handed_over,
                promised=order.merchant_estimate,
                parcel=index,
            ):
                bad += 1
                continue
            reference.learn(order)
            for forecast in forecasts.pop(index, []):
                estimator.resolve(forecast, order.delivered.date(), cal)
            continue
        if order.placed >= cutoff:
            reference.forecast(index, order, at, handover=kind == _HANDOVER)
        stage = ORDER if kind == _FORECAST else HANDOVER
        # Under way from now on: later forecasts count it as censored until it arrives.
        estimator.note_in_flight(
            index, order.lane, cal, since=at, stage=stage, promised=order.merchant_estimate
        )
        made = estimator.forecast(
            order.lane, cal, since=at, stage=stage, promised=order.merchant_estimate
        )
        if made is None:
            continue
        forecasts.setdefault(index, []).append(made)
        if order.placed >= cutoff:
            scored.setdefault(index, {})[stage] = made
    say(f"walked {len(events)} events in {time.perf_counter() - started:.1f}s")

    test = [i for i, o in enumerate(orders) if o.placed >= cutoff]
    usable = [
        i
        for i in test
        if (d := orders[i].delivered) is not None
        and d >= orders[i].placed
        and ORDER in scored.get(i, {})
    ]
    say(
        f"{len(test)} orders placed on/after {args.cutoff}: {len(usable)} scored, "
        f"{len(test) - len(usable)} excluded (never delivered, lacking dates, or "
        f"delivered before placed); {bad} bad deliveries ignored while learning"
    )
    if not usable:
        raise SystemExit("bench: no delivered orders after the cutoff")

    def actual(i: int) -> date:
        delivered = orders[i].delivered
        assert delivered is not None
        return delivered.date()

    result: dict[str, Any] = {
        "n_test": len(usable),
        "n_excluded": len(test) - len(usable),
        **_scores(orders, usable, scored, reference, actual),
        "cutoff": args.cutoff.isoformat(),
    }
    last = scored[usable[-1]][ORDER].window(0.8)
    say(f"example window: {last.describe()} (actual {actual(usable[-1])})")
    return result


def _scores(
    orders: list[Order],
    usable: list[int],
    scored: dict[int, dict[str, Forecast]],
    reference: _Reference,
    actual: Callable[[int], date],
) -> dict[str, Any]:
    errors = [abs((scored[i][ORDER].likely - actual(i)).days) for i in usable]
    merchant = [
        abs((m - actual(i)).days) for i in usable if (m := orders[i].merchant_estimate) is not None
    ]
    after = [
        abs((scored[i][HANDOVER].likely - actual(i)).days) for i in usable if HANDOVER in scored[i]
    ]
    w80 = [scored[i][ORDER].window(0.8) for i in usable]
    w95 = [scored[i][ORDER].window(0.95) for i in usable]
    after80 = [scored[i][HANDOVER].window(0.8) for i in usable if HANDOVER in scored[i]]
    return {
        "mae_days": round(statistics.fmean(errors), 3),
        "merchant_mae_days": round(statistics.fmean(merchant), 3) if merchant else None,
        **reference.scores(usable, [i for i in usable if HANDOVER in scored[i]], actual),
        "n_after_handover": len(after),
        "mae_days_after_handover": round(statistics.fmean(after), 3) if after else None,
        "coverage_80": round(_share(w80, [actual(i) for i in usable]), 3),
        "coverage_95": round(_share(w95, [actual(i) for i in usable]), 3),
        "median_width_80_days": statistics.median(w.width_days for w in w80),
        "median_width_80_days_after_handover": (
            statistics.median(w.width_days for w in after80) if after80 else None
        ),
    }


class _Reference:
    """What the estimator is judged against, walking forward alongside it: the median
    calendar-day transit of the last BASELINE_RECENT deliveries from placement, with their
    10th to 90th percentiles as an 80% window; after handover, the median of the last
    BASELINE_RECENT handover-to-delivery legs."""

    def __init__(self) -> None:
        self.transits: deque[int] = deque(maxlen=BASELINE_RECENT)
        self.legs: deque[int] = deque(maxlen=BASELINE_RECENT)
        self.windows: dict[int, Window] = {}
        self.after: dict[int, date] = {}

    def learn(self, order: Order) -> None:
        assert order.delivered is not None
        self.transits.append((order.delivered.date() - order.placed.date()).days)
        if order.handed_over is not None and order.placed <= order.handed_over:
            self.legs.append((order.delivered.date() - order.handed_over.date()).days)

    def forecast(self, index: int, order: Order, at: datetime, *, handover: bool) -> None:
        if handover and self.legs:
            self.after[index] = at.date() + timedelta(days=round(statistics.median(self.legs)))
        elif not handover and self.transits:
            ordered = sorted(self.transits)
            placed = order.placed.date()
            likely = placed + timedelta(days=round(statistics.median(ordered)))
            earliest = min(placed + timedelta(days=quantile(ordered, 0.1)), likely)
            latest = max(placed + timedelta(days=quantile(ordered, 0.9)), likely)
            self.windows[index] = Window(earliest, likely, latest, 0.8, "rolling")

    def scores(
        self, usable: list[int], handed: list[int], actual: Callable[[int], date]
    ) -> dict[str, Any]:
        at_order = [i for i in usable if i in self.windows]
        after = [abs((self.after[i] - actual(i)).days) for i in handed if i in self.after]
        if not at_order:
            return {"rolling_median_mae_days": None}
        windows = [self.windows[i] for i in at_order]
        return {
            "rolling_median_mae_days": round(
                statistics.fmean(
                    abs((w.likely - actual(i)).days) for i, w in zip(at_order, windows, strict=True)
                ),
                3,
            ),
            "rolling_coverage_80": round(_share(windows, [actual(i) for i in at_order]), 3),
            "rolling_median_width_80_days": statistics.median(w.width_days for w in windows),
            "rolling_median_mae_days_after_handover": (
                round(statistics.fmean(after), 3) if after else None
            ),
        }


def _share(windows: list[Window], days: list[date]) -> float:
    return sum(1 for w, d in zip(windows, days, strict=True) if w.contains(d)) / len(days)
