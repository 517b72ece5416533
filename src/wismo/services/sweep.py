"""The sweeper: re-forecasts shipments and finds problems before the customer asks.

A shipment is due when its `next_check_at` has passed: right after a scan changed it (the
ingestion path brings the check forward), and at the moment a time-based rule could next
fire (no carrier scan two business days after the label, end of the local day for a parcel
out for delivery, the day after the promised date...). Each check

1. re-forecasts the delivery from the store's own history (`DeliveryEstimator`): from the
   order's placement before the carrier has the parcel, from the handover after, "today"
   when out for delivery; conditioned on the time already elapsed;
2. picks the estimate the customer sees by the configured preference (`domain.promise`);
3. runs the exception rules (`domain.exceptions.detect`) with the carrier's and service's
   thresholds, in the destination's business-day calendar and the customer's zone;
4. records every finding and every revision of the carrier's or Wismo's estimate as a
   timeline entry (one per occurrence: its key is unique), the current findings, the
   estimates, and the next check.

Work grows with the number of shipments due, never with the number open. The estimator of
each store learns its recent deliveries once, then only the deliveries since.

Each store's estimator, and how it is fed, is `wismo.services.store_models`.
"""

from __future__ import annotations

import logging
import time as timer
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache

from wismo.domain.arrival import reached_destination
from wismo.domain.estimate import (
    ARRIVAL,
    HANDOVER,
    ORDER,
    BusinessCalendar,
    DeliveryEstimator,
    Forecast,
    promised_lead,
)
from wismo.domain.exceptions import (
    Detection,
    FindingCode,
    ShipmentFacts,
    SiblingFacts,
    ThresholdRules,
    Thresholds,
    detect,
)
from wismo.domain.milestones import FINAL_MILESTONES, PHASE, Milestone, Phase, Reason
from wismo.domain.notify import finding_trigger
from wismo.domain.promise import DEFAULT_PREFERENCE, EstimateSource, Predicted, choose
from wismo.domain.zones import zone as zone_named
from wismo.services.collector import collector_paused
from wismo.services.ports import (
    CheckResult,
    Clock,
    DueShipment,
    PlannedFact,
    SweepBatch,
    SweepRepository,
    TimelineEntry,
)
from wismo.services.store_models import (
    StoreModel,
    StoreModels,
    calendar_of,
    lane_of,
    local,
)

log = logging.getLogger(__name__)

CONFIDENCE = 0.8  # the window stated to customers: "Tue 3 - Thu 5 Dec, 80% likely"

# Plain strings for the stored codes: an enum's `.value` is a Python-level property, read
# twice per finding, and a driver may adapt an enum member differently from its value.
_CODE_TEXT: dict[FindingCode, str] = {c: str.__str__(c) for c in FindingCode}
_REASON_TEXT: dict[Reason, str] = {r: str.__str__(r) for r in Reason}


@dataclass(slots=True)
class SweepReport:
    checked: int = 0
    findings: int = 0  # timeline entries of kind "exception" not recorded before
    revisions: int = 0  # timeline entries of kind "estimate_revised" not recorded before
    batches: int = 0
    seconds: float = 0.0


class Sweeper:
    def __init__(
        self,
        repository: SweepRepository,
        clock: Clock,
        *,
        thresholds: ThresholdRules | None = None,
        preference: Sequence[EstimateSource] = DEFAULT_PREFERENCE,
        batch_size: int = 2_000,
        history: int = 5_000,
        relearn_seconds: float = 300.0,
        stated_limit: int = 20_000,
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._thresholds = thresholds or ThresholdRules.from_config({})
        self._preference = tuple(preference)
        self._batch_size = batch_size
        self._stores = StoreModels(
            repository,
            history=history,
            relearn_seconds=relearn_seconds,
            stated_limit=stated_limit,
        )
        self._forecasts: dict[tuple[object, ...], tuple[Forecast | None, Predicted | None]] = {}
        # A parcel's forecast by what selects it (store, stage, lane, start day, promise,
        # today): spares working out the sample it would use (`_forecasts`' key).
        self._predicted: dict[tuple[object, ...], tuple[Forecast | None, Predicted | None]] = {}
        self._local_now: dict[tzinfo, datetime] = {}
        self._thresholds_of: dict[tuple[str, str | None], Thresholds] = {}

    def sweep(self, limit: int = 10_000) -> SweepReport:
        """Check up to `limit` due shipments, in batches of one transaction each."""
        started = timer.perf_counter()
        now = self._clock()
        report = SweepReport()
        self._forget_forecasts()  # valid for one instant and one state of the estimators
        self._local_now.clear()
        while report.checked < limit:
            with collector_paused():
                done = self._batch(now, min(self._batch_size, limit - report.checked))
            if done is None:
                break
            checked, new = done
            report.batches += 1
            report.checked += checked
            report.findings += new.get("exception", 0)
            report.revisions += new.get("estimate_revised", 0)
            if checked < self._batch_size:
                break
        report.seconds = timer.perf_counter() - started
        return report

    def _batch(self, now: datetime, size: int) -> tuple[int, dict[str, int]] | None:
        """Check one batch in one transaction: how many were checked, and the timeline
        entries recorded for the first time by kind; None when none is due. What it builds
        is garbage once it returns, before the collector resumes."""
        with self._repository.batch() as batch:
            due = batch.due(now, size)
            if not due:
                return None
            # Learned before the due parcels are noted under way: the claimed rows are locked,
            # so a due parcel still open cannot have a delivery to learn, and a fresh
            # sweeper learns its history before any cohort curve is worked out.
            self.learn({d.store_id for d in due})
            split = {d.order_id for d in due if d.split}
            siblings = batch.siblings(split) if split else {}
            waiting = [
                d.id
                for d in due
                if d.handed_over_at is None and PHASE[d.state.milestone] >= Phase.TRANSIT
            ]
            handovers = batch.handovers(waiting) if waiting else {}
            arrivals = _arrivals(batch, due)
            if self._stores.note_under_way(due, handovers, lambda zone: self._local(zone, now)):
                self._forget_forecasts()
            results = [
                self.check(
                    d, now, siblings.get(d.order_id, ()), handovers.get(d.id), arrivals.get(d.id)
                )
                for d in due
            ]
            new = batch.record(results)
            # Outbox: findings become messages in this batch's transaction. The finding's key
            # is the occurrence, so a finding seen again plans nothing; one that was already
            # open at the last check is not even offered again.
            batch.notify(_finding_facts(due, results), now)
            batch.commit()
        return len(due), new

    def _forget_forecasts(self) -> None:
        self._forecasts.clear()
        self._predicted.clear()

    # -- learning --------------------------------------------------------------------------

    def learn(self, store_ids: Iterable[int]) -> None:
        """Teach each store's estimator the deliveries it has not seen (`StoreModels`)."""
        if self._stores.learn(store_ids):
            self._forget_forecasts()  # made from what the estimators knew before

    def learned(self, store_id: int) -> int:
        """How many deliveries of the store the estimator has learned."""
        model = self._stores.get(store_id)
        return model.learned if model else 0

    def estimator(self, store_id: int) -> DeliveryEstimator | None:
        """The store's estimator, once the store has been swept or learned."""
        model = self._stores.get(store_id)
        return model.estimator if model else None

    def _local(self, zone: tzinfo, now: datetime) -> datetime:
        """The sweep's instant `now` on the wall clock of `zone` (cached per sweep)."""
        found = self._local_now.get(zone)
        if found is None:
            found = self._local_now[zone] = local(now, zone)
        return found

    # -- one shipment ----------------------------------------------------------------------

    def check(
        self,
        d: DueShipment,
        now: datetime,
        siblings: Collection[tuple[int, datetime | None]] = (),
        handover: datetime | None = None,
        arrival: datetime | None = None,
    ) -> CheckResult:
        state = d.state
        zone = zone_named(d.zone)
        local_now = self._local(zone, now)
        today = local_now.date()
        handed_over = d.handed_over_at or handover
        arrived = d.arrived_at or arrival
        calendar = calendar_of(d.country, d.region, today.year)
        finished = d.cancelled or state.milestone in FINAL_MILESTONES

        predicted = (
            None
            if finished
            else self._predict(d, calendar, zone, handed_over=handed_over, arrived=arrived)
        )
        carrier_on = state.carrier_eta_at.astimezone(zone).date() if state.carrier_eta_at else None
        shown = (
            None
            if finished
            else choose(
                self._preference,
                today=today,
                carrier_on=carrier_on,
                predicted=predicted,
                promised_from_on=d.promised_from_on,
                promised_to_on=d.promised_to_on,
            )
        )
        detection = (
            Detection((), None)
            if d.cancelled
            else detect(
                ShipmentFacts(
                    carrier=d.carrier,
                    service=d.service_level,
                    milestone=state.milestone,
                    reason=state.reason,
                    created_at=d.created_at,
                    status_at=state.status_at,
                    last_event_at=state.last_event_at,
                    last_event_tz=state.last_event_tz,
                    delivered_at=state.delivered_at,
                    carrier_eta_on=carrier_on,
                    previous_carrier_eta_on=d.carrier_eta_seen_on,
                    predicted_on=predicted.likely_on if predicted else None,
                    promised_to_on=d.promised_to_on,
                    zone=d.zone,
                    siblings=tuple(
                        SiblingFacts(delivered_at) for sid, delivered_at in siblings if sid != d.id
                    )
                    if siblings
                    else (),
                ),
                now=now,
                calendar=calendar,
                thresholds=self._thresholds_for(d.carrier, d.service_level),
            )
        )
        codes = tuple(_CODE_TEXT[f.code] for f in detection.findings)
        timeline = [
            TimelineEntry(
                store_id=d.store_id,
                order_id=d.order_id,
                shipment_id=d.id,
                kind="exception",
                code=code,
                reason=_REASON_TEXT[f.reason],
                detail=dict(f.detail),
                key=f.key,
                occurred_at=now,
            )
            for code, f in zip(codes, detection.findings, strict=True)
        ]
        timeline.extend(_revisions(d, now, carrier_on, predicted))
        next_check = detection.next_check_at
        if predicted is not None:
            # Look again when the predicted day has passed without a delivery: the forecast,
            # conditioned on the time elapsed, then moves later.
            overdue = _midnight_after(max(predicted.likely_on, today), zone)
            next_check = overdue if next_check is None else min(next_check, overdue)
        if next_check is not None and next_check <= now:
            next_check = now + timedelta(minutes=1)  # never due again within this sweep
        return CheckResult(
            shipment_id=d.id,
            next_check_at=next_check,
            handed_over_at=handed_over,
            predicted=predicted,
            predicted_at=now,
            carrier_eta_seen_on=carrier_on,
            shown=shown,
            open_findings=codes,
            timeline=tuple(timeline),
            arrived_at=arrived,
        )

    def _thresholds_for(self, carrier: str, service: str | None) -> Thresholds:
        found = self._thresholds_of.get((carrier, service))
        if found is None:
            if len(self._thresholds_of) > 10_000:  # bounded: carriers are few, names free text
                self._thresholds_of.clear()
            found = self._thresholds.for_shipment(carrier, service)
            self._thresholds_of[(carrier, service)] = found
        return found

    def _predict(
        self,
        d: DueShipment,
        calendar: BusinessCalendar,
        zone: tzinfo,
        *,
        handed_over: datetime | None,
        arrived: datetime | None,
    ) -> Predicted | None:
        model = self._stores.get(d.store_id)
        if model is None or not model.learned:
            return None  # nothing learned: any window would be made up
        estimator = model.estimator
        local_now = self._local_now[zone]  # set by `check`
        if d.state.milestone is Milestone.OUT_FOR_DELIVERY:
            today_key = (d.store_id, Milestone.OUT_FOR_DELIVERY, local_now.date())
            if today_key not in self._forecasts:
                made = estimator.out_for_delivery(local_now)
                self._forecasts[today_key] = (made, _predicted(made))
            return self._forecasts[today_key][1]
        if arrived is not None:
            # At the facility that delivers it: the last mile, once the store's history has
            # parcels seen arriving; until then the handover's forecast, conditioned on the
            # time elapsed, is the best there is.
            found = self._staged(d, model, calendar, zone, stage=ARRIVAL, since=arrived)
            if found is not None:
                return found
        since, stage = (handed_over, HANDOVER) if handed_over else (d.placed_at, ORDER)
        return self._staged(d, model, calendar, zone, stage=stage, since=since)

    def _staged(
        self,
        d: DueShipment,
        model: StoreModel,
        calendar: BusinessCalendar,
        zone: tzinfo,
        *,
        stage: str,
        since: datetime,
    ) -> Predicted | None:
        """The forecast of stage `stage`, its clock started at `since` (memoised)."""
        estimator = model.estimator
        local_now = self._local_now[zone]  # set by `check`
        # A forecast depends on the time only through the day the parcel's clock starts and
        # today's date, and on the lane and promise only through the sample they select
        # (`basis`): parcels that agree on those share one. A sweep sees thousands of them,
        # and a forecast costs more than the rest of a check.
        # Aware, in the zone: `start_day` reads only its local date and time of day.
        start = calendar.start_day(since.astimezone(zone), estimator.cutoff)
        today = local_now.date()
        selector = (
            d.store_id,
            stage,
            d.carrier,
            d.service_level,
            d.origin_region,
            d.country,
            d.region,
            start,
            d.promised_to_on,
            today,
            id(calendar),
        )
        found = self._predicted.get(selector)
        if found is None:
            found = self._predicted[selector] = self._forecast(
                d, model, stage, start, calendar=calendar, local_now=local_now
            )
        if found[0] is not None:
            self._stores.state(model, d.id, found[0])
        return found[1]

    def _forecast(
        self,
        d: DueShipment,
        model: StoreModel,
        stage: str,
        start: date,
        *,
        calendar: BusinessCalendar,
        local_now: datetime,
    ) -> tuple[Forecast | None, Predicted | None]:
        estimator = model.estimator
        today = local_now.date()
        lane = lane_of(d.carrier, d.service_level, d.origin_region, d.country, d.region)
        # The last mile does not scale with the distance the promise was set from.
        promised = None if stage == ARRIVAL else d.promised_to_on
        lead = promised_lead(calendar, start, promised, estimator.lead_offset)
        basis = estimator.model.basis(stage, lane, lead)
        # With parcels noted under way, the lane matters only through the median ratio of
        # the censored cohort that answers for it, which moves the sample by the lead.
        ratio = estimator.censored_ratio(stage, lane, lead, local_now)
        key = (
            d.store_id,
            (ratio, lead) if ratio is not None else None,
            stage,
            basis,
            start,
            today,
            id(calendar),
        )
        found = self._forecasts.get(key)
        if found is None:
            made = estimator.forecast(
                lane,
                calendar,
                since=datetime.combine(start, time(0)),
                stage=stage,
                now=local_now,
                # The promise scales the history to this parcel's distance (the merchant
                # sets it from the distance): near and far parcels share one history.
                promised=promised,
            )
            found = self._forecasts[key] = (made, _predicted(made))
        return found


def _arrivals(batch: SweepBatch, due: Sequence[DueShipment]) -> dict[int, datetime]:
    """When each due parcel not yet seen at its destination got there, where a scan shows
    it (`reached_destination`): the first in-transit scan at the facility that delivers it.
    A parcel whose carrier never says so is read again at each check; its in-transit scans
    are few."""
    waiting = [
        d
        for d in due
        if d.arrived_at is None and not d.cancelled and PHASE[d.state.milestone] >= Phase.TRANSIT
    ]
    if not waiting:
        return {}
    scans = batch.transit_scans([d.id for d in waiting])
    found: dict[int, datetime] = {}
    for d in waiting:
        for when, text, place in scans.get(d.id, ()):
            if reached_destination(text, place, d.destination):
                found[d.id] = when
                break
    return found


def _finding_facts(due: Sequence[DueShipment], results: Sequence[CheckResult]) -> list[PlannedFact]:
    facts = []
    for d, r in zip(due, results, strict=True):
        for e in r.timeline:
            if e.kind != "exception" or e.code in d.open_findings:
                continue
            trigger = finding_trigger(e.code)
            if trigger is not None:
                detail: dict[str, object] = {"finding": e.code, **e.detail}
                if r.shown is not None:
                    detail["estimate_on"] = str(r.shown.likely_on)
                facts.append(PlannedFact(trigger, e.key, shipment_id=e.shipment_id, detail=detail))
    return facts


def _predicted(forecast: Forecast | None) -> Predicted | None:
    if forecast is None:
        return None
    window = forecast.window(CONFIDENCE)
    if window.basis == "none":  # nothing learned yet: a guess is not an estimate
        return None
    return Predicted(
        from_on=window.earliest,
        likely_on=window.likely,
        to_on=window.latest,
        confidence=window.confidence,
        basis=window.basis,
    )


def _revisions(
    d: DueShipment, now: datetime, carrier_on: date | None, predicted: Predicted | None
) -> list[TimelineEntry]:
    """An `estimate_revised` entry for each estimate whose date moved since the last check."""
    moves = []
    if carrier_on is not None and d.carrier_eta_seen_on not in (None, carrier_on):
        moves.append((EstimateSource.CARRIER, d.carrier_eta_seen_on, carrier_on))
    if (
        predicted is not None
        and d.predicted is not None
        and predicted.likely_on != d.predicted.likely_on
    ):
        moves.append((EstimateSource.WISMO, d.predicted.likely_on, predicted.likely_on))
    return [
        TimelineEntry(
            store_id=d.store_id,
            order_id=d.order_id,
            shipment_id=d.id,
            kind="estimate_revised",
            code=source.value,
            reason="none",
            detail={
                "from": str(before),
                "to": str(after),
                "direction": "later" if after > before else "earlier",
            },
            # The instant makes a date that moves back and forth one entry per move.
            key=f"estimate_revised:{source.value}:{before}->{after}@{now.isoformat()}",
            occurred_at=now,
        )
        for source, before, after in moves
    ]


@lru_cache(maxsize=4096)
def _midnight_after(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
