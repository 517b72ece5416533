"""What the sweeper knows of each store's deliveries: its estimator, fed as `bench edd` feeds it.

Each store's `DeliveryEstimator` learns the store's recent deliveries once, then only the
deliveries since (at most every `relearn_seconds`). It is fed as `python -m bench edd` feeds
it on its walk:

- every open shipment it checks is noted as under way (`note_in_flight`, its id as the
  parcel) from its placement and, once known, from its handover (the real starts, not the
  check's time); its delivery is learned under the same id. Forecasts then count the
  parcels still travelling as censored, so a slowdown moves them later before the slow
  parcels arrive. Noting a parcel again changes nothing (`CensoredCohorts.start`). A
  parcel is noted only when checked: one never checked in its first two weeks is missed,
  and each sweeper process counts only the parcels it checks;
- the forecast of a parcel's first check at each stage (from placement; from handover) is
  kept, and resolved when its delivery is learned (`resolve`): that calibrates the
  windows' quantile levels (`PitRecalibrator`). Like the bench's walk, these forecasts know
  only the deliveries learned before they were made; one made at a later check is also
  conditioned on the time elapsed then. Forecasts remade at learning time instead would
  know the deliveries completed while the parcel travelled: fed those, the windows held
  0.77-0.78 / 0.91-0.92 of deliveries at 80% / 95% on the bench's walk, no better than
  raw quantiles (0.76-0.77 / 0.92-0.94), against 0.79-0.80 / 0.94-0.95. Kept forecasts
  are lost on a restart (the windows are raw until `min_resolved` deliveries have
  resolved again). Per store at most `stated_limit` are kept (a few KB each at most:
  parcels checked in one sweep share theirs), sampled by shipment id when there are more:
  independent of transit, where dropping the oldest would keep the fast parcels.
"""

from __future__ import annotations

import time as timer
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache

from wismo.domain.estimate import (
    ARRIVAL,
    HANDOVER,
    ORDER,
    BusinessCalendar,
    DeliveryEstimator,
    Forecast,
    Lane,
)
from wismo.domain.milestones import FINAL_MILESTONES, Milestone
from wismo.domain.zones import zone as zone_named
from wismo.services.estimate import calendar_for
from wismo.services.ports import Delivery, DueShipment, SweepRepository


def local(moment: datetime, zone: tzinfo) -> datetime:
    """The wall-clock time in `zone`, naive: the estimator counts local business days."""
    return moment.astimezone(zone).replace(tzinfo=None)


def lane_of(
    carrier: str,
    service: str | None,
    origin: str | None,
    country: str | None,
    region: str | None,
) -> Lane:
    destination = f"{country}-{region}" if country and region else country
    return Lane(carrier=carrier, service=service, origin=origin, destination=destination)


@lru_cache(maxsize=1024)
def calendar_of(country: str | None, region: str | None, year: int) -> BusinessCalendar:
    return calendar_for(country, region, range(year - 1, year + 2))


@dataclass(slots=True)
class StoreModel:
    estimator: DeliveryEstimator
    learned: int = 0  # deliveries learned so far
    learned_until: datetime | None = None
    learned_at: float | None = None  # when the deliveries were last read; None: never
    # Those delivered at exactly `learned_until`: the next read starts at that instant
    # (inclusive, so a delivery recorded later with the same instant is not missed), and
    # these are the ones it returns again. Only the boundary is kept, so it stays small.
    learned_ids: set[int] = field(default_factory=set)
    # The forecast of each parcel's first check per stage, until its delivery is learned:
    # only for shipment ids that are multiples of `sampling`.
    stated: dict[tuple[int, str], Forecast] = field(default_factory=dict)
    sampling: int = 1

    def observe(self, d: Delivery) -> None:
        """Learn one delivery, under its shipment id as the parcel noted under way, and
        resolve the forecasts kept from its first checks."""
        if d.shipment_id in self.learned_ids:
            return
        if self.learned_until is None or d.delivered_at > self.learned_until:
            self.learned_until = d.delivered_at
            self.learned_ids.clear()
        self.learned_ids.add(d.shipment_id)
        self.learned += 1
        zone = zone_named(d.zone)
        calendar = calendar_of(d.country, d.region, d.delivered_at.year)
        delivered = local(d.delivered_at, zone)
        learned = self.estimator.observe(
            lane_of(d.carrier, d.service_level, d.origin_region, d.country, d.region),
            calendar,
            placed=local(d.placed_at, zone),
            delivered=delivered,
            handed_over=local(d.handed_over_at, zone) if d.handed_over_at else None,
            promised=d.promised_to_on,
            parcel=d.shipment_id,
            arrived=local(d.arrived_at, zone) if d.arrived_at else None,
        )
        for stage in (ORDER, HANDOVER, ARRIVAL):
            stated = self.stated.pop((d.shipment_id, stage), None)
            if stated is not None and learned:
                self.estimator.resolve(stated, delivered.date(), calendar)

    def state(self, parcel: int, forecast: Forecast, limit: int) -> None:
        """Keep the forecast of a parcel's first check at its stage, for `observe`."""
        key = (parcel, forecast.stage)
        if parcel % self.sampling or key in self.stated:
            return
        self.stated[key] = forecast
        if len(self.stated) > limit:
            # Half as many: a sample by id is blind to transit, unlike dropping the oldest
            # (the slow parcels) would be.
            self.sampling *= 2
            self.stated = {k: f for k, f in self.stated.items() if k[0] % self.sampling == 0}

    def forget(self, parcel: int) -> None:
        """A parcel that will never be delivered (cancelled, returned): nothing to resolve."""
        if self.stated:
            for stage in (ORDER, HANDOVER, ARRIVAL):
                self.stated.pop((parcel, stage), None)


class StoreModels:
    """Every store's `StoreModel`, learning from the sweep repository."""

    def __init__(
        self,
        repository: SweepRepository,
        *,
        history: int = 5_000,
        relearn_seconds: float = 300.0,
        stated_limit: int = 20_000,
    ) -> None:
        self._repository = repository
        self._history = history
        self._relearn_seconds = relearn_seconds
        self._stated_limit = stated_limit
        self._models: dict[int, StoreModel] = {}

    def get(self, store_id: int) -> StoreModel | None:
        return self._models.get(store_id)

    def model(self, store_id: int) -> StoreModel:
        model = self._models.get(store_id)
        if model is None:
            model = self._models[store_id] = StoreModel(DeliveryEstimator())
        return model

    def learn(self, store_ids: Iterable[int]) -> bool:
        """Teach each store's estimator the deliveries it has not seen (at most every
        `relearn_seconds`: deliveries change a distribution slowly). True when any store
        learned something, so forecasts made before are stale."""
        clock = timer.monotonic()
        changed = False
        for store_id in store_ids:
            model = self.model(store_id)
            if model.learned_at is not None and clock - model.learned_at < self._relearn_seconds:
                continue
            model.learned_at = clock
            found = self._repository.deliveries(store_id, model.learned_until, self._history)
            learned = model.learned
            for delivery in found:
                model.observe(delivery)
            changed = changed or model.learned != learned
        return changed

    def state(self, model: StoreModel, parcel: int, forecast: Forecast) -> None:
        model.state(parcel, forecast, self._stated_limit)

    def note_under_way(
        self,
        due: Sequence[DueShipment],
        handovers: dict[int, datetime],
        local_now: Callable[[tzinfo], datetime],
    ) -> bool:
        """Note the open parcels among `due` as under way from their placement and, once
        handed over, from their handover: forecasts then count them as censored. True when
        that switched a store's censoring on, so forecasts made before ignored the cohorts.
        `local_now(zone)` is the sweep's instant in that zone."""
        switched = False
        for d in due:
            if d.cancelled or d.state.milestone in FINAL_MILESTONES:
                if d.state.milestone is not Milestone.DELIVERED:  # never to be learned
                    found = self._models.get(d.store_id)
                    if found is not None:
                        found.forget(d.id)
                continue
            if d.promised_to_on is None:
                continue  # only parcels with a promise take part in the cohorts
            estimator = self.model(d.store_id).estimator
            zone = zone_named(d.zone)
            now = local_now(zone)
            calendar = calendar_of(d.country, d.region, now.year)
            # Older starts are outside the cohort already: noting them would only churn it.
            oldest = now.date() - timedelta(days=estimator.cohorts.days)
            lane = lane_of(d.carrier, d.service_level, d.origin_region, d.country, d.region)
            handed_over = d.handed_over_at or handovers.get(d.id)
            censoring = estimator.censoring
            for stage, since in (
                (ORDER, d.placed_at),
                (HANDOVER, handed_over if handed_over and handed_over >= d.placed_at else None),
            ):
                if since is None:
                    continue
                start = local(since, zone)
                if calendar.start_day(start, estimator.cutoff) < oldest:
                    continue
                estimator.note_in_flight(
                    d.id, lane, calendar, since=start, stage=stage, promised=d.promised_to_on
                )
            # Forecasts memoised before now ignored the cohorts. Later notes need no
            # forgetting: the memo's key holds the cohort's median ratio, read afresh for
            # each parcel, and a forecast memoised by its selector used cohorts whose curves
            # stay cached for this sweep (`CensoredCohorts.refresh`); a cohort not worked out
            # then had no deliveries, and notes add none.
            switched = switched or (not censoring and estimator.censoring)
        return switched
