"""The agent's storage: conversations and their turns, one-time codes, failed
verifications, handoffs (`wismo.conversation.ports.ConversationStore`), and what the agent
reads about stores and customers (`OrderDirectory`, answers through `StatusService`).

A turn costs one read (the conversation) and one write transaction (the conversation row,
its new turns, and whatever the turn recorded); the other reads run only when the turn
needs them (a verification, a code, a newly verified order).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, or_, select, update

from wismo.conversation.ports import (
    Contact,
    Conversation,
    ConversationConflict,
    Handoff,
    OneTimeCode,
    OrderBrief,
    QueuedHandoff,
    StoreInfo,
    TicketRef,
    TurnRecord,
)
from wismo.services.status import OrderStatusAnswer, StatusService
from wismo.storage.tables import (
    conversation_handoffs,
    conversation_turns,
    conversations,
    customers,
    integrations,
    orders,
    stores,
    verification_codes,
    verification_failures,
)

AGENT_PROVIDER = "agent"  # integrations row holding a store's agent settings
STORE_CACHE_SECONDS = 30.0

_LOAD = select(conversations).where(conversations.c.public_id == bindparam("public_id"))
# Built once: building a Core statement costs more than SQLite takes to run it, and a turn
# runs these every time.
_SAVED_COLUMNS = (
    "customer_id", "order_id", "level", "method", "language", "state", "status", "turn_count",
    "prior_contacts", "ticket_provider", "ticket_id", "ticket_url", "updated_at",
)  # fmt: skip
_SAVE = (
    update(conversations)
    .where(
        conversations.c.public_id == bindparam("b_public_id"),
        conversations.c.turn_count == bindparam("b_expected"),
    )
    .values({name: bindparam(f"b_{name}") for name in _SAVED_COLUMNS})
    .returning(conversations.c.id)
)
_PRIOR = select(func.count()).where(
    conversations.c.order_id == bindparam("order_id"),
    conversations.c.store_id == bindparam("store_id"),
    conversations.c.started_at >= bindparam("since"),
    conversations.c.public_id != bindparam("exclude"),
)
_ADD_TURNS = conversation_turns.insert()
_ADD_FAILURES = verification_failures.insert()


def _conversation(row: Any) -> Conversation:
    ticket = (
        TicketRef(row.ticket_provider, row.ticket_id, row.ticket_url)
        if row.ticket_provider and row.ticket_id
        else None
    )
    return Conversation(
        id=row.public_id,
        store_id=int(row.store_id),
        channel=row.channel,
        client_hash=row.client_hash,
        language=row.language,
        state=dict(row.state or {}),
        started_at=row.started_at,
        updated_at=row.updated_at,
        status=row.status,
        customer_id=row.customer_id,
        order_id=row.order_id,
        level=row.level,
        method=row.method,
        turn_count=int(row.turn_count),
        prior_contacts=int(row.prior_contacts),
        ticket=ticket,
    )


def _values(c: Conversation) -> dict[str, Any]:
    return {
        "customer_id": c.customer_id,
        "order_id": c.order_id,
        "level": c.level,
        "method": c.method,
        "language": c.language,
        "state": c.state,
        "status": c.status,
        "turn_count": c.turn_count,
        "prior_contacts": c.prior_contacts,
        "ticket_provider": c.ticket.provider if c.ticket else None,
        "ticket_id": c.ticket.ticket_id if c.ticket else None,
        "ticket_url": c.ticket.url if c.ticket else None,
        "updated_at": c.updated_at,
    }


def _turn_rows(internal_id: int, turns: Sequence[TurnRecord]) -> list[dict[str, Any]]:
    return [
        {
            "conversation_id": internal_id,
            "seq": t.seq,
            "role": t.role,
            "text": t.text,
            "redacted": t.redacted,
            "intent": t.intent,
            "confidence": t.confidence,
            "grounded": t.grounded,
            "violations": list(t.violations) if t.violations else None,
            "latency_ms": t.latency_ms,
            "created_at": t.created_at,
        }
        for t in turns
    ]


def handoff_json(h: Handoff) -> dict[str, Any]:
    return {
        "conversation_id": h.conversation_id,
        "store_id": h.store_id,
        "channel": h.channel,
        "reason": h.reason,
        "reason_text": h.reason_text,
        "summary": h.summary,
        "verified": h.verified,
        "verification_method": h.verification_method,
        "customer_name": h.customer_name,
        "contact": h.contact,
        "order_number": h.order_number,
        "transcript": [list(t) for t in h.transcript],
        "created_at": h.created_at.isoformat(),
        "tags": list(h.tags),
    }


def handoff_from_json(data: Mapping[str, Any]) -> Handoff:
    return Handoff(
        conversation_id=str(data["conversation_id"]),
        store_id=int(data["store_id"]),
        channel=str(data["channel"]),
        reason=str(data["reason"]),
        reason_text=str(data["reason_text"]),
        summary=str(data["summary"]),
        verified=bool(data["verified"]),
        verification_method=data.get("verification_method"),
        customer_name=data.get("customer_name"),
        contact=data.get("contact"),
        order_number=data.get("order_number"),
        transcript=tuple((str(a), str(b)) for a, b in data.get("transcript", ())),
        created_at=datetime.fromisoformat(str(data["created_at"])),
        tags=tuple(str(t) for t in data.get("tags", ())),
    )


class SqlConversationStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, conversation: Conversation, turns: Sequence[TurnRecord]) -> None:
        c = conversation
        with self._engine.begin() as conn:
            internal = conn.execute(
                conversations.insert()
                .values(
                    public_id=c.id,
                    store_id=c.store_id,
                    channel=c.channel,
                    client_hash=c.client_hash,
                    started_at=c.started_at,
                    **_values(c),
                )
                .returning(conversations.c.id)
            ).scalar_one()
            if turns:
                conn.execute(conversation_turns.insert(), _turn_rows(int(internal), turns))

    def load(self, conversation_id: str) -> Conversation | None:
        with self._engine.connect() as conn:
            row = conn.execute(_LOAD, {"public_id": conversation_id}).first()
        return _conversation(row) if row else None

    def save(
        self,
        conversation: Conversation,
        turns: Sequence[TurnRecord],
        *,
        failures: Sequence[tuple[str, str]] = (),
        code: OneTimeCode | None = None,
        handoff: QueuedHandoff | None = None,
    ) -> None:
        c = conversation
        params = {f"b_{k}": v for k, v in _values(c).items()}
        params |= {"b_public_id": c.id, "b_expected": c.turn_count - len(turns)}
        with self._engine.connect().execution_options(wismo_write=True) as conn, conn.begin():
            internal = conn.execute(_SAVE, params).scalar()
            if internal is None:
                raise ConversationConflict(c.id)
            internal = int(internal)
            if turns:
                conn.execute(_ADD_TURNS, _turn_rows(internal, turns))
            if failures:
                conn.execute(
                    _ADD_FAILURES,
                    [
                        {
                            "store_id": c.store_id,
                            "scope": scope,
                            "key_hash": key,
                            "failed_at": c.updated_at,
                        }
                        for scope, key in failures
                    ],
                )
            if code is not None:
                self._save_code(conn, internal, code)
            if handoff is not None:
                self._save_handoff(conn, internal, handoff, c.updated_at)

    @staticmethod
    def _save_code(conn: Connection, internal: int, code: OneTimeCode) -> None:
        if code.id is None:
            code.id = int(
                conn.execute(
                    verification_codes.insert()
                    .values(
                        conversation_id=internal,
                        code_hash=code.code_hash,
                        channel=code.channel,
                        address=code.address,
                        attempts=code.attempts,
                        used=code.used,
                        created_at=code.created_at,
                        expires_at=code.expires_at,
                    )
                    .returning(verification_codes.c.id)
                ).scalar_one()
            )
        else:
            conn.execute(
                update(verification_codes)
                .where(verification_codes.c.id == code.id)
                .values(attempts=code.attempts, used=code.used)
            )

    @staticmethod
    def _save_handoff(conn: Connection, internal: int, q: QueuedHandoff, at: datetime) -> None:
        q.id = int(
            conn.execute(
                conversation_handoffs.insert()
                .values(
                    conversation_id=internal,
                    store_id=q.handoff.store_id,
                    reason=q.handoff.reason,
                    payload=handoff_json(q.handoff),
                    status=q.status,
                    attempts=q.attempts,
                    ticket_provider=q.ticket.provider if q.ticket else None,
                    ticket_id=q.ticket.ticket_id if q.ticket else None,
                    ticket_url=q.ticket.url if q.ticket else None,
                    last_error=q.last_error,
                    created_at=at,
                    updated_at=at,
                )
                .returning(conversation_handoffs.c.id)
            ).scalar_one()
        )

    def turns(self, conversation_id: str) -> list[TurnRecord]:
        query = (
            select(conversation_turns)
            .join(conversations, conversations.c.id == conversation_turns.c.conversation_id)
            .where(conversations.c.public_id == conversation_id)
            .order_by(conversation_turns.c.seq)
        )
        with self._engine.connect() as conn:
            return [
                TurnRecord(
                    seq=r.seq,
                    role=r.role,
                    text=r.text,
                    redacted=r.redacted,
                    created_at=r.created_at,
                    intent=r.intent,
                    confidence=r.confidence,
                    grounded=r.grounded,
                    violations=tuple(r.violations or ()),
                    latency_ms=r.latency_ms,
                )
                for r in conn.execute(query)
            ]

    def failures(
        self, store_id: int, keys: Sequence[tuple[str, str]], since: datetime
    ) -> dict[tuple[str, str], tuple[int, datetime | None]]:
        if not keys:
            return {}
        f = verification_failures.c
        query = (
            select(f.scope, f.key_hash, func.count(), func.max(f.failed_at))
            .where(
                f.store_id == store_id,
                f.failed_at >= since,
                or_(*[(f.scope == s) & (f.key_hash == k) for s, k in keys]),
            )
            .group_by(f.scope, f.key_hash)
        )
        found: dict[tuple[str, str], tuple[int, datetime | None]] = dict.fromkeys(keys, (0, None))
        with self._engine.connect() as conn:
            for scope, key, count, latest in conn.execute(query):
                found[(scope, key)] = (int(count), _aware(latest))
        return found

    def code(self, conversation_id: str) -> OneTimeCode | None:
        v = verification_codes.c
        query = (
            select(verification_codes)
            .join(conversations, conversations.c.id == v.conversation_id)
            .where(conversations.c.public_id == conversation_id)
            .order_by(v.id.desc())
            .limit(1)
        )
        with self._engine.connect() as conn:
            r = conn.execute(query).first()
        if r is None:
            return None
        return OneTimeCode(
            r.code_hash, r.channel, r.address, r.created_at, r.expires_at, r.attempts, r.used, r.id
        )

    def prior_contacts(self, store_id: int, order_id: int, since: datetime, exclude: str) -> int:
        params = {"order_id": order_id, "store_id": store_id, "since": since, "exclude": exclude}
        with self._engine.connect() as conn:
            return int(conn.execute(_PRIOR, params).scalar_one())

    def pending_handoffs(self, limit: int) -> list[QueuedHandoff]:
        h = conversation_handoffs.c
        query = select(conversation_handoffs).where(h.status == "pending").order_by(h.id)
        with self._engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [_queued(r) for r in rows]

    def handoffs(self, store_id: int | None = None, limit: int = 100) -> list[QueuedHandoff]:
        """Recent handoffs, newest first (for `wismo chat --handoffs`)."""
        h = conversation_handoffs.c
        query = select(conversation_handoffs).order_by(h.id.desc()).limit(limit)
        if store_id is not None:
            query = query.where(h.store_id == store_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_queued(r) for r in rows]

    def handoff_done(
        self, handoff_id: int, ticket: TicketRef | None, error: str | None, at: datetime
    ) -> None:
        h = conversation_handoffs.c
        values: dict[str, Any] = {"attempts": h.attempts + 1, "updated_at": at}
        if ticket is not None:
            values |= {
                "status": "sent",
                "ticket_provider": ticket.provider,
                "ticket_id": ticket.ticket_id,
                "ticket_url": ticket.url,
                "last_error": None,
            }
        else:
            values["last_error"] = error
        with self._engine.begin() as conn:
            conn.execute(update(conversation_handoffs).where(h.id == handoff_id).values(**values))
            if ticket is not None:
                conv = select(conversation_handoffs.c.conversation_id).where(h.id == handoff_id)
                conn.execute(
                    update(conversations)
                    .where(conversations.c.id == conv.scalar_subquery())
                    .values(
                        ticket_provider=ticket.provider,
                        ticket_id=ticket.ticket_id,
                        ticket_url=ticket.url,
                    )
                )


def _queued(r: Any) -> QueuedHandoff:
    ticket = (
        TicketRef(r.ticket_provider, r.ticket_id, r.ticket_url)
        if r.ticket_provider and r.ticket_id
        else None
    )
    return QueuedHandoff(
        handoff_from_json(r.payload), r.status, r.attempts, ticket, r.last_error, r.id
    )


def _aware(value: Any) -> datetime | None:
    """func.max() loses the column type on SQLite: a string or a naive datetime comes back."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


class SqlOrderDirectory:
    """Stores (cached briefly: the agent's settings are read on every turn), contacts, a
    customer's orders; answers from the status service."""

    def __init__(self, engine: Engine, status: StatusService) -> None:
        self._engine = engine
        self._status = status
        self._stores: dict[int, tuple[float, StoreInfo | None]] = {}
        self._lock = threading.Lock()

    def store(self, store_id: int) -> StoreInfo | None:
        now = time.monotonic()
        with self._lock:
            cached = self._stores.get(store_id)
        if cached is not None and now - cached[0] < STORE_CACHE_SECONDS:
            return cached[1]
        with self._engine.connect() as conn:
            row = conn.execute(
                select(stores.c.id, stores.c.name, stores.c.country, stores.c.time_zone).where(
                    stores.c.id == store_id
                )
            ).first()
            settings = conn.execute(
                select(integrations.c.settings)
                .where(
                    integrations.c.store_id == store_id,
                    integrations.c.provider == AGENT_PROVIDER,
                )
                .order_by(integrations.c.id)
                .limit(1)
            ).scalar()
        info = (
            StoreInfo(int(row.id), row.name, row.country, row.time_zone, dict(settings or {}))
            if row
            else None
        )
        with self._lock:
            self._stores[store_id] = (now, info)
        return info

    def contact(
        self, store_id: int, *, email: str | None = None, phone: str | None = None
    ) -> Contact | None:
        wanted = []
        if email:
            wanted.append(orders.c.email == email.strip().lower())
        if phone:
            wanted.append(orders.c.phone == phone)
        if not wanted:
            return None
        query = (
            select(orders.c.customer_id, customers.c.name, customers.c.language)
            .outerjoin(customers, customers.c.id == orders.c.customer_id)
            .where(orders.c.store_id == store_id, or_(*wanted))
            .order_by(orders.c.customer_id.is_(None), orders.c.placed_at.desc())
            .limit(1)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return Contact(row.customer_id, row.name, row.language) if row else None

    def orders_of(
        self,
        store_id: int,
        *,
        customer_id: int | None,
        email: str | None = None,
        phone: str | None = None,
        limit: int = 20,
    ) -> list[OrderBrief]:
        wanted = []
        if customer_id is not None:
            wanted.append(orders.c.customer_id == customer_id)
        if email:
            wanted.append(orders.c.email == email.strip().lower())
        if phone:
            wanted.append(orders.c.phone == phone)
        if not wanted:
            return []
        query = (
            select(orders.c.id, orders.c.order_number, orders.c.placed_at)
            .where(orders.c.store_id == store_id, or_(*wanted))
            .order_by(orders.c.placed_at.desc(), orders.c.id.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [OrderBrief(int(r.id), r.order_number, r.placed_at) for r in conn.execute(query)]

    def answer(self, store_id: int, order_id: int) -> OrderStatusAnswer | None:
        return self._status.by_id(store_id, order_id)

    def lookup(
        self,
        store_id: int,
        order_number: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        postal_code: str | None = None,
    ) -> OrderStatusAnswer | None:
        return self._status.lookup(
            store_id, order_number, email=email, phone=phone, postal_code=postal_code
        )
