"""Replies: the order-status answer put into words for one channel and language, with only
what the disclosure policy allows, and the agent's fixed messages.

`answer_reply` composes from `OrderStatusAnswer` only; every fact reaches the text through
a template placeholder, and the `Reply` carries the facts it was allowed to use, so that
`grounding.check(reply.text, reply.facts)` passes for our own text by construction and
fails for a rephrasing that adds or changes a fact. `prompt_reply` words every message
that states no order fact (greeting, verification, handoff...); its only facts are the
slots the dialogue passes in.

Topics: order_status, delivery_date, delay_reason, return_status, refund_status, items,
tracking. Channels: chat (several lines; also web, widget, terminal, email), sms (one
paragraph, at most 320 characters: details are dropped first), voice (spoken: dates in
full, no symbols, tracking numbers only on the tracking topic and then in groups).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from wismo.conversation.grounding import Facts, facts_of
from wismo.conversation.policy import Category, DisclosurePolicy, Identity
from wismo.conversation.texts import (
    Formats,
    Segment,
    Texts,
    language_of,
    mask_contact,
    render,
    style_of,
    templates,
)
from wismo.domain.milestones import MILESTONE_OF, REASON_OF, Milestone
from wismo.domain.zones import zone as zone_named
from wismo.services.i18n import Translator
from wismo.services.status import (
    Estimate,
    Item,
    OrderStatusAnswer,
    Package,
    Problem,
    carrier_name,
)
from wismo.services.wording import finding_text

__all__ = ["PROMPTS", "TOPICS", "Reply", "answer_reply", "mask_contact", "prompt_reply"]

# What each topic is about; without that category there is nothing to say.
TOPICS: dict[str, Category] = {
    "order_status": Category.STATUS,
    "delivery_date": Category.ESTIMATE,
    "delay_reason": Category.STATUS,
    "return_status": Category.RETURNS,
    "refund_status": Category.REFUNDS,
    "items": Category.ITEMS,
    "tracking": Category.TRACKING,
}
PROMPTS = frozenset(templates("en")["prompt"])


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    channel: str
    language: str
    facts: Facts  # what the text may state: check(text, facts) is empty for our own text
    key: str = ""  # the topic or prompt it words
    withheld: frozenset[Category] = frozenset()  # what it left out for want of verification


def prompt_reply(key: str, *, channel: str, language: str | None = None, **slots: str) -> Reply:
    """A message with no order facts but the slots given (`choices`, `contact`, `ticket`).

    Raises ValueError for an unknown key or channel, or a slot the text needs and lacks.
    """
    if key not in PROMPTS:
        raise ValueError(f"prompt: unknown key {key!r}")
    lang = language_of(language)
    text = Texts(lang, style_of(channel))("prompt", key, **slots)
    quoted = frozenset(v for v in slots.values() if v)
    return Reply(text, channel, lang, Facts(quoted=quoted), key)


def answer_reply(
    answer: OrderStatusAnswer | None,
    topic: str,
    *,
    channel: str,
    identity: Identity,
    policy: DisclosurePolicy,
    language: str | None = None,
    package_ref: str | None = None,
) -> Reply:
    """The answer to `topic`, saying only what `policy` lets `identity` see.

    `package_ref` (a shipment reference or tracking number) narrows a split order to one
    package; one that matches none is ignored. No answer gives an honest "cannot see it".
    """
    if topic not in TOPICS:
        raise ValueError(f"topic: unknown topic {topic!r} (one of {', '.join(TOPICS)})")
    style = style_of(channel)
    lang = language_of(language, answer.language if answer else None)
    texts = Texts(lang, style)
    if answer is None:
        return Reply(texts("prompt", "no_order_data"), channel, lang, Facts.empty(), topic)
    allowed = policy.allowed(identity, answer.order_id)
    needed = TOPICS[topic]
    if needed not in allowed:
        key = "need_stronger" if identity.verified_for(answer.order_id) else "not_verified"
        return Reply(texts("prompt", key), channel, lang, Facts.empty(), topic, frozenset({needed}))
    composer = _Composer(answer, allowed, texts, package_ref)
    getattr(composer, topic)()
    return Reply(
        composer.render(),
        channel,
        lang,
        facts_of(answer, allowed),
        topic,
        frozenset(composer.withheld),
    )


class _Composer:
    def __init__(
        self,
        answer: OrderStatusAnswer,
        allowed: frozenset[Category],
        texts: Texts,
        package_ref: str | None,
    ) -> None:
        self.a = answer
        self.allowed = allowed
        self.T = texts
        self.t = Translator(texts.language, answer.time_zone)
        self.f = Formats(self.t, texts)
        self.voice = texts.style == "voice"
        self.zone = zone_named(answer.time_zone)
        self.lines: list[list[Segment]] = []
        self.withheld: set[Category] = set()
        self.order = self.f.order(answer.order_number)
        self.numbered = list(enumerate(answer.packages, 1))
        ref = "".join((package_ref or "").split()).upper()
        chosen = [
            (n, p)
            for n, p in self.numbered
            if ref
            and (
                p.shipment_ref.upper() == ref
                or "".join((p.tracking_number or "").split()).upper() == ref
            )
        ]
        self.narrowed = bool(chosen) and len(answer.packages) > 1
        self.packages = chosen or self.numbered

    # --- topics ------------------------------------------------------------------------

    def order_status(self) -> None:
        a = self.a
        if a.cancelled:
            self.line((1, self.T("answer", "header_cancelled", order=self.order)))
            return
        if not a.packages:
            self.line((1, self.header(a.status)), *self.order_estimate())
        elif len(a.packages) == 1:
            (_, p) = self.packages[0]
            self.line((1, self.header(a.status, p)))
            self.line(self.carrier_line(p, tracking=not self.voice), *self.details(p))
        elif self.narrowed:
            for n, p in self.packages:
                self.line((1, self.head(p, n, tracking=not self.voice)), *self.details(p))
        else:
            self.line((1, self.split_header()))
            for n, p in self.packages:
                tracking = not self.voice and self.T.style == "chat"
                self.line((1, self.head(p, n, tracking=tracking)), *self.details(p))
        if a.not_yet_shipped and a.packages:
            self.line((3, self.T("answer", "not_shipped_some")))
        if (
            self.voice
            and any(p.tracking_number for p in a.packages)
            and self.can(Category.TRACKING)
        ):
            self.line((3, self.T("answer", "tracking_voice_hint")))

    def delivery_date(self) -> None:
        a = self.a
        if a.cancelled:
            self.line((1, self.T("answer", "header_cancelled", order=self.order)))
            return
        single = len(a.packages) == 1
        self.line((1, self.header(a.status, a.packages[0] if single else None)))
        if not a.packages:
            estimate = self.order_estimate()
            self.line(*estimate or [(1, self.no_estimate())])
            return
        shown = False
        for n, p in self.packages:
            if self.delivered(p):
                shown = True
                if not single:
                    self.line((1, self.head(p, n, tracking=False)))
            elif p.estimate is not None:
                shown = True
                said = (1, self.expected(p.estimate, p.carrier_name))
                if single:
                    self.line(said, *self.lateness(p))
                else:
                    self.line((1, self.head(p, n, tracking=False)), said, *self.lateness(p))
        if not shown:
            self.line((1, self.no_estimate()))
        if a.not_yet_shipped:
            self.line((3, self.T("answer", "not_shipped_some")))

    def delay_reason(self) -> None:
        a = self.a
        if a.cancelled:
            self.line((1, self.T("answer", "header_cancelled", order=self.order)))
            return
        found = False
        for n, p in self.packages:
            said = self.problems(p)
            if not said and p.status is not Milestone.DELIVERED:
                if p.late:
                    said = [self.T("answer", "late_no_reason")]
                elif p.predicted_late:
                    said = [self.predicted_late()]
            if said:
                found = True
                head = (
                    self.header(p.status, p)
                    if len(a.packages) == 1
                    else self.head(p, n, tracking=False)
                )
                self.line((1, head), *((2, s) for s in said))
        if found:
            return
        self.line((1, self.header(a.status)))
        if a.late:
            key = "late_not_shipped" if a.not_yet_shipped else "late_no_reason"
            self.line((1, self.T("answer", key)))
        elif a.predicted_late:
            self.line((1, self.predicted_late()))
        else:
            self.line((1, self.T("answer", "no_problem", order=self.order)))
            if a.status is not Milestone.DELIVERED:
                self.line(*self.order_estimate())

    def return_status(self) -> None:
        a = self.a
        if not a.returns:
            self.line((1, self.T("answer", "returns_none", order=self.order)))
        for i, r in enumerate(a.returns, 1):
            said = self.T("answer", "return", state=self.t.return_state(r.state))
            line: list[Segment] = [(1, self.number(i, len(a.returns), said))]
            if r.items and self.can(Category.ITEMS):
                line.append((2, self.T("answer", "return_items", items=self.item_list(r.items))))
            if r.tracking_number and r.carrier:
                tracking = self.f.tracking(r.tracking_number)
                name = carrier_name(r.carrier)
                line.append(
                    (3, self.T("answer", "return_tracking", carrier=name, tracking=tracking))
                )
            day = self.f.day(r.updated_at.astimezone(self.zone).date())
            line.append((3, self.T("answer", "return_updated", date=day)))
            self.line(*line)

    def refund_status(self) -> None:
        a = self.a
        if not a.refunds:
            self.line((1, self.T("answer", "refunds_none", order=self.order)))
        for i, f in enumerate(a.refunds, 1):
            state = self.t.refund_state(f.state)
            if self.can(Category.AMOUNTS):
                method = self.T("answer", f"method_{f.method.value}")
                said = self.T(
                    "answer",
                    "refund_amount",
                    state=state,
                    amount=self.f.money(f.amount, f.currency),
                    method=f" {method}" if method else "",
                )
            else:
                said = self.T("answer", "refund", state=state)
            line: list[Segment] = [(1, self.number(i, len(a.refunds), said))]
            if f.expected_by_on is not None:
                line.append((2, self.refund_expected(f.expected_by_on, f.expected_by_is_estimate)))
            self.line(*line)

    def tracking(self) -> None:
        a = self.a
        with_numbers = [(n, p) for n, p in self.packages if p.tracking_number]
        if not with_numbers:
            self.line((1, self.T("answer", "tracking_none", order=self.order)))
        for n, p in with_numbers:
            scan = self.last_scan(p)
            if len(a.packages) == 1:
                self.line(self.carrier_line(p, tracking=True), *scan)
            else:
                self.line((1, self.head(p, n, tracking=True)), *scan)

    def items(self) -> None:
        a = self.a
        if not any(p.contents for _, p in self.packages) and not a.not_yet_shipped:
            self.line((1, self.T("answer", "items_none", order=self.order)))
        for n, p in self.packages:
            if p.contents:
                said = self.T(
                    "answer",
                    "package_items",
                    n=n,
                    carrier=p.carrier_name,
                    items=self.item_list(p.contents),
                )
                self.line((1, said))
        if a.not_yet_shipped:
            said = self.T("answer", "not_shipped_items", items=self.item_list(a.not_yet_shipped))
            self.line((1, said))

    # --- parts -------------------------------------------------------------------------

    def can(self, category: Category) -> bool:
        if category in self.allowed:
            return True
        self.withheld.add(category)
        return False

    def line(self, *segments: Segment) -> None:
        if segments:
            self.lines.append([s for s in segments if s[1]])

    def header(self, status: Milestone, p: Package | None = None) -> str:
        said = self.status_of(p) if p is not None else self.t.status(status)
        return self.T("answer", "header", order=self.order, status=said)

    def status_of(self, p: Package) -> str:
        """The package's status; once delivered, with the day (and time, in writing)."""
        at = p.delivered_at if self.delivered(p) else None
        if at is None:
            return self.t.status(p.status)
        if self.voice:
            day = self.f.day(at.astimezone(self.zone).date())
            return self.T("answer", "delivered_status", date=day)
        return self.t("page.delivered_on", date=self.f.when(at))

    def split_header(self) -> str:
        total = len(self.a.packages)
        delivered = sum(p.status is Milestone.DELIVERED for p in self.a.packages)
        if delivered:
            return self.T(
                "answer",
                "header_split_delivered",
                order=self.order,
                total=total,
                delivered=delivered,
            )
        return self.T("answer", "header_split", order=self.order, total=total)

    def head(self, p: Package, n: int, *, tracking: bool) -> str:
        status = self.status_of(p)
        if tracking and p.tracking_number and self.can(Category.TRACKING):
            number = self.f.tracking(p.tracking_number)
            return self.T(
                "answer",
                "package_tracking",
                n=n,
                carrier=p.carrier_name,
                tracking=number,
                status=status,
            )
        return self.T("answer", "package", n=n, carrier=p.carrier_name, status=status)

    def carrier_line(self, p: Package, *, tracking: bool) -> Segment:
        if tracking and p.tracking_number and self.can(Category.TRACKING):
            number = self.f.tracking(p.tracking_number)
            return (
                3,
                self.T("answer", "carrier_tracking", carrier=p.carrier_name, tracking=number),
            )
        return (3, self.T("answer", "carrier", carrier=p.carrier_name))

    def details(self, p: Package) -> list[Segment]:
        out: list[Segment] = []
        # A delivered package's status already says when.
        if not self.delivered(p) and p.estimate is not None and self.can(Category.ESTIMATE):
            out.append((2, self.expected(p.estimate, p.carrier_name)))
        if p.problem is not None:
            out.append((2, self.problem(p.problem, p)[0]))
        out += self.lateness(p)
        if p.status is not Milestone.DELIVERED:
            out += self.last_scan(p)
        return out

    def lateness(self, p: Package) -> list[Segment]:
        if p.status is Milestone.DELIVERED:
            return []
        if p.late:
            late = self.T("answer", "late") if self.voice else self.t("page.late") + "."
            return [(2, late)]
        if p.predicted_late:
            return [(2, self.predicted_late())]
        return []

    def predicted_late(self) -> str:
        if self.voice:
            return self.T("answer", "predicted_late")
        return self.t("page.predicted_late") + "."

    def last_scan(self, p: Package) -> list[Segment]:
        scan = p.last_scan
        if scan is None or not self.can(Category.TRACKING):
            return []
        when = self.f.when(scan.at, scan.at.tzinfo)
        if scan.location:
            place = self.f.place(scan.location)
            return [(3, self.T("answer", "last_scan", place=place, when=when))]
        return [(3, self.T("answer", "last_scan_no_place", when=when))]

    @staticmethod
    def delivered(p: Package) -> bool:
        return p.status is Milestone.DELIVERED and p.delivered_at is not None

    def order_estimate(self) -> list[Segment]:
        e = self.a.estimate
        if e is None or not self.can(Category.ESTIMATE):
            return []
        out = [(2, self.expected(e, ""))]
        if self.a.late:
            out.append((2, self.T("answer", "late") if self.voice else self.t("page.late") + "."))
        elif self.a.predicted_late:
            out.append((2, self.predicted_late()))
        return out

    def no_estimate(self) -> str:
        return self.T("answer", "no_estimate", order=self.order)

    def expected(self, e: Estimate, carrier: str) -> str:
        f, t = self.f, self.t
        window = e.from_on is not None and e.from_on != e.to_on
        if self.voice:
            if window and e.from_on is not None:
                span = {"from": f.day(e.from_on), "to": f.day(e.to_on)}
                if e.likely_on is not None:
                    return self.T("answer", "expected_window", likely=f.day(e.likely_on), **span)
                return self.T("answer", "expected_between", **span)
            return self.T("answer", "expected", date=f.day(e.to_on))
        if window and e.confidence is not None and e.likely_on is not None:
            detail = t(
                "page.likely", window=f.window(e.from_on, e.to_on), percent=t.percent(e.confidence)
            )
            return self.T("answer", "expected", date=t.short_date(e.likely_on), detail=detail)
        when = f.window(e.from_on, e.to_on) if window else t.short_date(e.to_on)
        key = f"page.source.{e.source}"
        source = t(key, carrier=carrier) if carrier or e.source != "carrier" else key
        if source == key:
            return self.T("answer", "expected_plain", date=when)
        return self.T("answer", "expected", date=when, detail=source)

    def problems(self, p: Package) -> list[str]:
        said: list[str] = []
        seen: set[str] = set()
        # Our own findings about a parcel stop mattering once it is delivered.
        alerts = () if self.delivered(p) else p.alerts
        for problem in (p.problem, *alerts):
            if problem is None or problem.code in seen:
                continue
            seen.add(problem.code)
            said += [s for s in self.problem(problem, p) if s]
        return said

    def problem(self, problem: Problem, p: Package) -> tuple[str, str | None]:
        t, carrier = self.t, p.carrier_name
        if problem is p.problem and (problem.code in REASON_OF or problem.code in MILESTONE_OF):
            text = t.problem(p.status, p.reason) or problem.text
            return text, t.next_step(p.status, p.reason, carrier)
        # Wismo's own findings: worded here per language, else as on the tracking page.
        worded = finding_text(problem.code, carrier)
        ours = self.T.raw("alert", problem.code)
        step = self.T.raw("alert", f"{problem.code}_next")
        return (
            ours.format(carrier=carrier) if ours else (worded[0] if worded else problem.text),
            step.format(carrier=carrier) if step else (worded[1] if worded else problem.next_step),
        )

    def refund_expected(self, day: date, estimate: bool) -> str:
        if self.voice:
            key = "refund_expected_estimate" if estimate else "refund_expected"
            return self.T("answer", key, date=self.f.day(day))
        said = self.t("page.expected_by", date=self.t.short_date(day))
        if estimate:
            said += " " + self.t("page.estimated")
        return said[:1].upper() + said[1:] + "."

    def item_list(self, items: tuple[Item, ...]) -> str:
        key = "items_voice" if self.voice else "items"
        return ", ".join(self.T("answer", key, quantity=i.quantity, title=i.title) for i in items)

    def number(self, n: int, total: int, text: str) -> str:
        return self.T("answer", "numbered", n=n, text=text) if total > 1 else text

    def render(self) -> str:
        return render(self.lines, self.T.style)
