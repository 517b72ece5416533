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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
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


@dataclass(frozen=True, slots=True)
class StoreRules:
    """A store's notification configuration; every field has a usable default.

    `quiet_from`/`quiet_until` are local times in the recipient's zone (the store's when the
    customer's is unknown); a message planned inside them is held until `quiet_until`.
    `max_per_day` caps messages per customer and channel in any 24 hours.
    """

    triggers: frozenset[Trigger] = frozenset(Trigger)
    channels: tuple[NotifyChannel, ...] = (NotifyChannel.EMAIL, NotifyChannel.SMS)
    quiet_from: time = time(21, 0)
    quiet_until: time = time(8, 0)
    # Urgent news goes out even at night? No: but "out for delivery" is only useful today,
    # so these are held only until the window opens, never dropped.
    max_per_day: int = 6
    webhook_url: str | None = None
    templates: Mapping[str, str] = field(default_factory=dict)  # trigger -> template name

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> StoreRules:
        """From the JSON kept in the store's `notifications` integration; ValueError says
        which key is wrong."""
        if not config:
            return cls()
        known = set(cls.__dataclass_fields__)
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
        except (TypeError, ValueError) as exc:
            raise ValueError(f"notification settings: {exc}") from None
        if "webhook_url" in config:
            kw["webhook_url"] = str(config["webhook_url"]) or None
        if "templates" in config:
            kw["templates"] = {str(k): str(v) for k, v in dict(config["templates"]).items()}
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
) -> list[Planned]:
    """The messages for one trigger: one per allowed channel with an address."""
    if trigger not in rules.triggers:
        return []
    channels = list(rules.channels)
    if recipient.preferred in {c.value for c in channels}:
        channels = [NotifyChannel(recipient.preferred)]
    language = primary_language(recipient.language)
    zone = zone_or_utc(recipient.time_zone or store_zone)
    out: list[Planned] = []
    for channel in channels:
        address = {
            NotifyChannel.EMAIL: recipient.email,
            NotifyChannel.SMS: recipient.phone,
            NotifyChannel.WEBHOOK: rules.webhook_url,
        }[channel]
        if not address or not allowed(channel, recipient.consent):
            continue
        if (channel.value, address) in opted_out:
            continue
        held_until = None
        if channel is not NotifyChannel.WEBHOOK:  # machines do not sleep
            held_until = quiet_until(now, zone, rules.quiet_from, rules.quiet_until)
        out.append(
            Planned(channel, address, language, "held" if held_until else "pending", held_until)
        )
    return out


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
) -> str:
    """One key per fact and channel: planning the same fact twice inserts nothing."""
    subject = f"s{shipment_id}" if shipment_id is not None else f"o{order_id}"
    if trigger in ONCE_PER_SHIPMENT:
        occurrence = "once"
    return f"{subject}:{trigger.value}:{occurrence}:{channel.value}"


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


def collapse(triggers: Sequence[Trigger]) -> Trigger | None:
    """The one message for several triggers of one shipment in a batch: the latest in the
    parcel's life wins (delivered beats out for delivery beats shipped)."""
    order = list(Trigger)
    rank = {
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
    if not triggers:
        return None
    return max(triggers, key=lambda t: (rank.get(t, 0), order.index(t)))
