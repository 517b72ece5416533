"""Which facts become customer messages, to whom, on which channel and when (pure).

The planner (`wismo.storage.notifications`) calls `shipment_trigger` with a shipment's
milestone before and after one ingestion batch, so a burst of scans in one batch gives at
most one message: the one for where the parcel is *now* ("delivered", never "shipped" then
"delivered"). Sweeper findings map through `finding_trigger`. `plan` then applies the
store's rules, the customer's consent, opt-outs and quiet hours. `still_true` is asked again
by the relay just before sending, so a message held overnight (or retried) that the parcel
has since overtaken is superseded rather than sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wismo.domain.milestones import PHASE, Milestone, Phase, Reason


class Trigger(StrEnum):
    ORDER_CONFIRMED = "order_confirmed"
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERED = "delivered"
    FAILED_ATTEMPT = "failed_attempt"
    DELAYED = "delayed"
    STUCK = "stuck"
    CUSTOMS_HOLD = "customs_hold"
    RETURNING_TO_SENDER = "returning_to_sender"
    SPLIT_SUMMARY = "split_summary"
    RETURN_RECEIVED = "return_received"
    REFUND_ISSUED = "refund_issued"


class NotifyChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"
    PUSH = "push"  # Web Push to browsers that subscribed on the tracking page


# Triggers that can happen once per shipment whatever the carrier re-scans: their key has
# no occurrence part, so a second "delivered" after a reversal is not announced twice.
ONCE_PER_SHIPMENT = frozenset({Trigger.SHIPPED, Trigger.DELIVERED, Trigger.SPLIT_SUMMARY})

# Sweeper finding codes (`wismo.domain.exceptions.FindingCode` values) that warrant a
# message. Findings that mirror a milestone (failed attempt, customs, return to sender) are
# announced by the milestone itself, from the scan, so they are not repeated here.
FINDING_TRIGGERS: Mapping[str, Trigger] = {
    "late": Trigger.DELAYED,
    "predicted_late": Trigger.DELAYED,
    "carrier_estimate_slipped": Trigger.DELAYED,
    "stuck_label_created": Trigger.STUCK,
    "no_scan_in_transit": Trigger.STUCK,
}

_MILESTONE_TRIGGERS: Mapping[Milestone, Trigger] = {
    Milestone.OUT_FOR_DELIVERY: Trigger.OUT_FOR_DELIVERY,
    Milestone.AVAILABLE_FOR_PICKUP: Trigger.AVAILABLE_FOR_PICKUP,
    Milestone.DELIVERED: Trigger.DELIVERED,
    Milestone.DELIVERY_ATTEMPT_FAILED: Trigger.FAILED_ATTEMPT,
    Milestone.RETURNING_TO_SENDER: Trigger.RETURNING_TO_SENDER,
}


def finding_trigger(code: str) -> Trigger | None:
    return FINDING_TRIGGERS.get(code)


def shipment_trigger(
    before: Milestone | None,
    before_reason: Reason,
    after: Milestone,
    after_reason: Reason,
) -> Trigger | None:
    """The message for a shipment whose state went from `before` to `after` in one batch.

    None when nothing the customer should hear about changed (another in-transit scan, a
    label, an informational scan after delivery).
    """
    if after is before and after_reason is before_reason:
        return None
    if after_reason is Reason.CUSTOMS_HOLD and before_reason is not Reason.CUSTOMS_HOLD:
        return Trigger.CUSTOMS_HOLD
    if after is before:
        return None
    found = _MILESTONE_TRIGGERS.get(after)
    if found is not None:
        return found
    was = PHASE[before] if before is not None else Phase.NONE
    if PHASE[after] is Phase.TRANSIT and was < Phase.TRANSIT and after is not Milestone.EXPIRED:
        return Trigger.SHIPPED  # the first carrier scan: the parcel is in the carrier's hands
    return None


def still_true(trigger: Trigger, milestone: Milestone | None, order_cancelled: bool) -> bool:
    """Whether a planned message still describes the parcel at the moment of sending."""
    if order_cancelled:
        return trigger in (Trigger.REFUND_ISSUED, Trigger.RETURN_RECEIVED)
    if milestone is None:
        return True  # an order-level message
    phase = PHASE[milestone]
    if trigger in (Trigger.SHIPPED, Trigger.STUCK, Trigger.DELAYED, Trigger.CUSTOMS_HOLD):
        return phase in (Phase.PRE_TRANSIT, Phase.TRANSIT)
    if trigger in (Trigger.OUT_FOR_DELIVERY, Trigger.AVAILABLE_FOR_PICKUP):
        return milestone is _trigger_milestone(trigger)
    if trigger is Trigger.FAILED_ATTEMPT:
        return phase is Phase.TRANSIT
    if trigger is Trigger.DELIVERED:
        return milestone is Milestone.DELIVERED
    if trigger is Trigger.RETURNING_TO_SENDER:
        return phase >= Phase.RETURNING
    return True


def _trigger_milestone(trigger: Trigger) -> Milestone | None:
    for milestone, t in _MILESTONE_TRIGGERS.items():
        if t is trigger:
            return milestone
    return None


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _days(value: object) -> frozenset[int]:
    """`"mon-fri"`, `"mon-fri,sat"` or `["mon", "wed"]` -> weekday numbers (Monday 0)."""
    if isinstance(value, str):
        items: list[object] = list(value.split(","))
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ValueError("business_hours.days: a string like mon-fri or a list of days")
    days: set[int] = set()
    for item in items:
        first, _, last = str(item).strip().lower().partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValueError(f"business_hours.days: {item!r} is not a day or range like mon-fri")
        a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        days.update(d % 7 for d in range(a, b + 1 if b >= a else b + 8))  # fri-mon wraps
    if not days:
        raise ValueError("business_hours.days: no day given")
    return frozenset(days)


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """When a store lets its messages reach people on some channels: local opening hours
    on `days` (Monday 0), closed on public holidays of the store's country if `holidays`.

    Hours are read in the recipient's zone (the store's when unknown), like quiet hours. A
    message planned outside them on a bound channel is held until the next opening.
    """

    days: frozenset[int] = frozenset(range(5))
    opens: time = time(9, 0)
    closes: time = time(18, 0)
    channels: frozenset[NotifyChannel] = frozenset(
        c for c in NotifyChannel if c is not NotifyChannel.WEBHOOK
    )
    holidays: bool = True

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> BusinessHours:
        """`{"days": "mon-fri", "from": "09:00", "until": "18:00", "channels": ["sms"],
        "holidays": true}`, every key optional; ValueError names the bad one."""
        unknown = set(config) - {"days", "from", "until", "channels", "holidays"}
        if unknown:
            raise ValueError(f"unknown business_hours settings: {sorted(unknown)}")
        kw: dict[str, Any] = {}
        if "days" in config:
            kw["days"] = _days(config["days"])
        for key, name in (("from", "opens"), ("until", "closes")):
            if key in config:
                try:
                    kw[name] = time.fromisoformat(str(config[key]))
                except ValueError:
                    raise ValueError(
                        f"business_hours.{key}: {config[key]!r} is not HH:MM"
                    ) from None
        if "channels" in config:
            try:
                kw["channels"] = frozenset(NotifyChannel(c) for c in config["channels"])
            except ValueError as exc:
                raise ValueError(f"business_hours.channels: {exc}") from None
            if NotifyChannel.WEBHOOK in kw["channels"]:
                raise ValueError("business_hours.channels: webhooks go to machines, not people")
        if "holidays" in config:
            kw["holidays"] = bool(config["holidays"])
        hours = cls(**kw)
        if hours.opens >= hours.closes:
            raise ValueError("business_hours: `from` must be before `until` (same day)")
        return hours

    def next_open(
        self, now: datetime, zone: ZoneInfo, closed_on: Collection[date] = ()
    ) -> datetime | None:
        """The next opening after `now` (an aware instant), or None when open at `now`."""
        local = now.astimezone(zone)
        t = local.time().replace(tzinfo=None)
        for ahead in range(400):  # a year of closed days is a configuration mistake
            day = local.date() + timedelta(days=ahead)
            if day.weekday() not in self.days or day in closed_on:
                continue
            if ahead == 0 and t >= self.closes:
                continue
            if ahead == 0 and t >= self.opens:
                return None
            return datetime.combine(day, self.opens, zone)
        return None


@dataclass(frozen=True, slots=True)
class StoreRules:
    """A store's notification configuration; every field has a usable default.

    `quiet_from`/`quiet_until` are local times in the recipient's zone (the store's when the
    customer's is unknown); a message planned inside them is held until `quiet_until`.
    `max_per_day` caps messages per customer and channel in any 24 hours (more wait).
    `business_hours` optionally binds channels to opening hours; `help_text` answers an
    SMS HELP. `country` is the store's (from `stores`, not configurable): whose public
    holidays close business hours.
    """

    triggers: frozenset[Trigger] = frozenset(Trigger)
    channels: tuple[NotifyChannel, ...] = (
        NotifyChannel.EMAIL,
        NotifyChannel.SMS,
        NotifyChannel.PUSH,  # only to browsers that subscribed: nothing without one
    )
    quiet_from: time = time(21, 0)
    quiet_until: time = time(8, 0)
    # Urgent news goes out even at night? No: but "out for delivery" is only useful today,
    # so these are held only until the window opens, never dropped.
    max_per_day: int = 6
    webhook_url: str | None = None
    templates: Mapping[str, str] = field(default_factory=dict)  # trigger -> template name
    business_hours: BusinessHours | None = None
    help_text: str | None = None
    country: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> StoreRules:
        """From the JSON kept in the store's `notifications` integration; ValueError says
        which key is wrong."""
        if not config:
            return cls()
        known = set(cls.__dataclass_fields__) - {"country"}
        unknown = set(config) - known
        if unknown:
            raise ValueError(f"unknown notification settings: {sorted(unknown)}")
        kw: dict[str, Any] = {}
        try:
            if "triggers" in config:
                kw["triggers"] = frozenset(Trigger(t) for t in config["triggers"])
            if "channels" in config:
                kw["channels"] = tuple(NotifyChannel(c) for c in config["channels"])
            for name in ("quiet_from", "quiet_until"):
                if name in config:
                    kw[name] = time.fromisoformat(str(config[name]))
            if "max_per_day" in config:
                kw["max_per_day"] = int(config["max_per_day"])
                if kw["max_per_day"] < 1:
                    raise ValueError("max_per_day must be at least 1")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"notification settings: {exc}") from None
        if "webhook_url" in config:
            kw["webhook_url"] = str(config["webhook_url"]) or None
        if "templates" in config:
            kw["templates"] = {str(k): str(v) for k, v in dict(config["templates"]).items()}
        if config.get("business_hours"):
            if not isinstance(config["business_hours"], Mapping):
                raise ValueError("notification settings: business_hours must be an object")
            kw["business_hours"] = BusinessHours.from_config(config["business_hours"])
        if "help_text" in config:
            kw["help_text"] = str(config["help_text"])[:300] or None
        return cls(**kw)

    def template(self, trigger: Trigger) -> str:
        return self.templates.get(trigger.value, trigger.value)


@dataclass(frozen=True, slots=True)
class Recipient:
    """What the planner knows about who an order's messages go to."""

    email: str | None
    phone: str | None  # E.164 or None when the order's number did not normalise
    language: str | None
    time_zone: str | None
    consent: Mapping[str, bool]
    preferred: str | None = None  # a channel the customer chose on the tracking page
    # Web Push endpoints subscribed to this order: the subscription is the opt-in.
    push_endpoints: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Planned:
    channel: NotifyChannel
    recipient: str
    language: str
    status: str  # pending | held
    not_before: datetime | None


def allowed(channel: NotifyChannel, consent: Mapping[str, bool]) -> bool:
    """Consent per channel. Email about one's own order is a transactional message and
    goes unless the customer said no; SMS needs an explicit yes (TCPA, PECR)."""
    if channel is NotifyChannel.SMS:
        return consent.get("sms") is True
    if channel is NotifyChannel.EMAIL:
        return consent.get("email") is not False
    return True


def plan(
    trigger: Trigger,
    rules: StoreRules,
    recipient: Recipient,
    *,
    store_zone: str,
    now: datetime,
    opted_out: frozenset[tuple[str, str]] = frozenset(),
    holidays: Collection[date] = (),
) -> list[Planned]:
    """The messages for one trigger: one per allowed channel with an address.

    `holidays` are the dates business hours are closed on (the store country's).
    """
    if trigger not in rules.triggers:
        return []
    channels = list(rules.channels)
    if recipient.preferred in {c.value for c in channels}:
        # The choice is between the channels the tracking page offers; the retailer's
        # webhook and a browser's push subscription are not part of it.
        channels = [
            c for c in channels if c not in PREFERENCE_CHANNELS or c.value == recipient.preferred
        ]
    language = primary_language(recipient.language)
    zone = zone_or_utc(recipient.time_zone or store_zone)
    out: list[Planned] = []
    for channel in channels:
        address = {
            NotifyChannel.EMAIL: recipient.email,
            NotifyChannel.SMS: recipient.phone,
            NotifyChannel.WEBHOOK: rules.webhook_url,
            NotifyChannel.PUSH: None,  # one per subscription, below
        }[channel]
        if not address or not allowed(channel, recipient.consent):
            continue
        if (channel.value, address) in opted_out:
            continue
        held_until = send_after(now, zone, rules, channel, holidays)
        out.append(
            Planned(channel, address, language, "held" if held_until else "pending", held_until)
        )
    if NotifyChannel.PUSH in rules.channels and recipient.push_endpoints:
        # Subscribing was the opt-in, so push goes besides a preferred channel, never
        # instead of it; quiet hours apply as to SMS (a phone lights up either way).
        held_until = send_after(now, zone, rules, NotifyChannel.PUSH, holidays)
        out.extend(
            Planned(
                NotifyChannel.PUSH,
                endpoint,
                language,
                "held" if held_until else "pending",
                held_until,
            )
            for endpoint in recipient.push_endpoints
            if (NotifyChannel.PUSH.value, endpoint) not in opted_out
        )
    return out


# The channels the tracking page's preferences form offers, each ticked or not.
PREFERENCE_CHANNELS = (NotifyChannel.EMAIL, NotifyChannel.SMS)


def preferred_channel(consent: Mapping[str, bool]) -> str | None:
    """The channel a customer chose when they chose exactly one of those the tracking page
    offers (its form stores every one, ticked or not, so an absent key is no choice)."""
    if not all(c.value in consent for c in PREFERENCE_CHANNELS):
        return None
    chosen = [c.value for c in PREFERENCE_CHANNELS if consent[c.value] is True]
    return chosen[0] if len(chosen) == 1 else None


def send_after(
    now: datetime,
    zone: ZoneInfo,
    rules: StoreRules,
    channel: NotifyChannel,
    holidays: Collection[date] = (),
) -> datetime | None:
    """The first instant from `now` at which `channel` may reach a person, or None if now:
    outside quiet hours and, for a channel bound to them, inside business hours. The later
    of the two wins; webhooks go to machines, which do not sleep."""
    if channel is NotifyChannel.WEBHOOK:
        return None
    hours = rules.business_hours
    bound = hours is not None and channel in hours.channels
    at = now
    # Each step only moves forward; a week of steps settles any sane pair of windows (one
    # that never settles, opening hours wholly inside quiet hours, ends on an opening).
    for _ in range(14):
        quiet = quiet_until(at, zone, rules.quiet_from, rules.quiet_until)
        at = quiet or at
        opening = hours.next_open(at, zone, holidays) if hours is not None and bound else None
        at = opening or at
        if quiet is None and opening is None:
            break
    return at if at != now else None


def quiet_until(now: datetime, zone: ZoneInfo, start: time, end: time) -> datetime | None:
    """The end of the quiet window `now` falls in (an aware instant), or None outside it."""
    local = now.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    if start == end:
        return None
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, zone)


def within_rate(sent_last_day: int, rules: StoreRules) -> bool:
    return sent_last_day < rules.max_per_day


def idempotency_key(
    trigger: Trigger,
    channel: NotifyChannel,
    *,
    order_id: int,
    shipment_id: int | None,
    occurrence: str,
    address: str | None = None,
) -> str:
    """One key per fact and channel: planning the same fact twice inserts nothing. Push
    has one per browser too (`address`, the endpoint: long, so a digest of it)."""
    subject = f"s{shipment_id}" if shipment_id is not None else f"o{order_id}"
    if trigger in ONCE_PER_SHIPMENT:
        occurrence = "once"
    key = f"{subject}:{trigger.value}:{occurrence}:{channel.value}"
    if channel is NotifyChannel.PUSH and address:
        key += ":" + hashlib.sha256(address.encode()).hexdigest()[:20]
    return key


def primary_language(tag: str | None) -> str:
    """The template language for a BCP 47 tag: fr-CA -> fr; unknown -> en."""
    base = (tag or "en").replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else "en"


LANGUAGES = ("en", "fr", "es")


def zone_or_utc(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


# How far along its life a shipment message is; order-level messages have no rank.
_RANK: Mapping[Trigger, int] = {
    Trigger.SHIPPED: 1,
    Trigger.STUCK: 1,
    Trigger.DELAYED: 2,
    Trigger.CUSTOMS_HOLD: 2,
    Trigger.OUT_FOR_DELIVERY: 3,
    Trigger.FAILED_ATTEMPT: 3,
    Trigger.AVAILABLE_FOR_PICKUP: 4,
    Trigger.DELIVERED: 5,
    Trigger.RETURNING_TO_SENDER: 6,
}


def collapse(triggers: Sequence[Trigger]) -> Trigger | None:
    """The one message for several triggers of one shipment in a batch: the latest in the
    parcel's life wins (delivered beats out for delivery beats shipped)."""
    order = list(Trigger)
    if not triggers:
        return None
    return max(triggers, key=lambda t: (_RANK.get(t, 0), order.index(t)))


def overtaken_by(newer: Trigger) -> frozenset[Trigger]:
    """The waiting messages about a shipment that a newer one about it makes stale: those
    no further along (a held "shipped" once "out for delivery" is planned). The relay
    would send both when the hold ends; the customer needs only the newer."""
    rank = _RANK.get(newer)
    if rank is None:
        return frozenset()
    return frozenset(t for t, r in _RANK.items() if r <= rank)
