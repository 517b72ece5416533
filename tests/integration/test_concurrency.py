"""Several writers at once: no lost updates, stored state equals a fold of all events."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

from wismo.bootstrap import Wismo
from wismo.domain.status import fold
from wismo.testing import encode, order_created, shipment_created, tracking

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MILESTONES = [
    "picked_up",
    "in_transit",
    "out_for_delivery",
    "delivery_attempt_failed",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "in_transit",
]


def test_parallel_ingesters_do_not_lose_updates(wismo: Wismo, store_id: int) -> None:
    """Four threads ingest overlapping, shuffled scans; every shipment ends consistent."""
    setup = []
    for i in range(20):
        setup += [
            order_created(f"C{i}", placed_at=T0),
            shipment_created(f"C{i}", f"C{i}-S", created_at=T0),
        ]
    wismo.ingestor.ingest(store_id, [encode(e) for e in setup])
    scans = [
        encode(
            tracking(
                m,
                T0 + timedelta(hours=h * 7 + 1),
                shipment_ref=f"C{i}-S",
                raw_code=f"{m}-{h}",
                id_=f"c{i}-{h}",
            )
        )
        for i in range(20)
        for h, m in enumerate(MILESTONES)
    ]
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        mine = scans[:]
        random.Random(seed).shuffle(mine)
        try:
            for k in range(0, len(mine), 15):
                wismo.ingestor.ingest(store_id, mine[k : k + 15])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    with wismo.uow_factory() as uow:
        ids = [
            ref.id
            for ref in uow.shipments.find_shipments(store_id, [f"C{i}-S" for i in range(20)], [])[
                0
            ].values()
        ]
        states = uow.shipments.load_states(ids)
        events = uow.shipments.load_events(ids)
    assert len(states) == 20
    for shipment_id, state in states.items():
        assert state == fold(events[shipment_id])
        assert state.event_count == len(MILESTONES) + 1  # plus "label created"
        assert state.milestone.value == "delivered"
