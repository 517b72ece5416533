"""Rendering of the customer tracking page: the order-status answer, in the customer's
language and zone, in the store's colours, as one self-contained HTML document.

Everything is formatted here and the templates only place text, so that autoescaping
covers every value that came from order data. No value reaches the page unescaped, and
the page loads nothing from other hosts (styles are inline; the logo is the merchant's
choice, see docs/tracking-page.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from wismo.domain.milestones import Milestone, Reason
from wismo.domain.zones import reported_zone
from wismo.services.branding import Theme, theme
from wismo.services.i18n import LANGUAGE_NAMES, LANGUAGES, Translator
from wismo.services.status import OrderStatusAnswer, Package
from wismo.storage.page import PageStore, ScanRow

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
_LANGS = tuple((code, LANGUAGE_NAMES[code]) for code in LANGUAGES)


@dataclass(frozen=True, slots=True)
class Frame:
    """What every page shares: the store, its theme, the language, and where links go."""

    store: PageStore
    t: Translator
    home: str  # the lookup form of this store (on a custom domain: `/track`)
    lang_base: str  # the current page's URL up to `lang=` for the language switch

    @property
    def theme(self) -> Theme:
        return theme(self.store.branding)


def render(name: str, frame: Frame, title: str, **values: Any) -> str:
    return _env.get_template(f"track/{name}.html").render(
        store=frame.store,
        theme=frame.theme,
        t=frame.t,
        lang=frame.t.language,
        languages=_LANGS,
        home=frame.home,
        lang_base=frame.lang_base,
        title=title,
        **values,
    )


def lookup_page(
    frame: Frame, action: str, *, error: str | None = None, order_number: str = ""
) -> str:
    return render(
        "lookup",
        frame,
        frame.t("page.title"),
        action=action,
        error=error,
        order_number=order_number,
    )


def message_page(frame: Frame, title: str, message: str) -> str:
    return render("message", frame, title, message=message)


def order_page(
    frame: Frame,
    answer: OrderStatusAnswer,
    scans: dict[str, list[ScanRow]],
    *,
    consent: dict[str, bool] | None,
    prefs_action: str,
    saved: bool = False,
    push: dict[str, Any] | None = None,  # the Web Push offer (`web.push_routes.offer`)
    chat_link: str | None = None,  # this page's link token, for the chat widget
) -> str:
    t = frame.t
    total = len(answer.packages)
    packages = [
        _package(t, p, i + 1, total, scans.get(p.shipment_ref, []))
        for i, p in enumerate(answer.packages)
    ]
    headline = t.status(Milestone.CANCELLED if answer.cancelled else answer.status)
    est = answer.estimate
    o = {
        "headline": headline,
        "number": answer.order_number,
        "placed": t("page.placed", date=t.long_date(answer.placed_at.astimezone(t.zone).date())),
        "cancelled": answer.cancelled,
        "estimate": _window(t, est) if est else None,
        "late": answer.late,
        "predicted_late": answer.predicted_late,
        "packages": packages,
        "not_shipped": [(i.title, i.quantity) for i in answer.not_yet_shipped],
        "returns": [
            {"state": t.return_state(r.state), "lines": [(i.title, i.quantity) for i in r.items]}
            for r in answer.returns
        ],
        "refunds": [
            {
                "amount": t.money(r.amount, r.currency),
                "state": t.refund_state(r.state),
                "expected": (
                    t("page.expected_by", date=t.short_date(r.expected_by_on))
                    + (" " + t("page.estimated") if r.expected_by_is_estimate else "")
                )
                if r.expected_by_on
                else None,
            }
            for r in answer.refunds
        ],
    }
    return render(
        "order",
        frame,
        t("page.order", number=answer.order_number),
        o=o,
        consent=consent,
        prefs_action=prefs_action,
        saved=saved,
        push=push,
        chat_link=chat_link,
    )


def parcel_page(
    frame: Frame, answer: OrderStatusAnswer, shipment_ref: str, scans: dict[str, list[ScanRow]]
) -> str | None:
    """One parcel, without the order number, the contents or anything about the customer:
    a tracking number is shared with carriers and neighbours, so it proves nothing."""
    found = next((p for p in answer.packages if p.shipment_ref == shipment_ref), None)
    if found is None:
        return None
    p = _package(frame.t, found, 1, 1, scans.get(shipment_ref, []))
    return render(
        "parcel", frame, frame.t("page.parcel", tracking_number=found.tracking_number), p=p
    )


def _window(t: Translator, e: Any) -> str:
    window = t.window(e.from_on, e.to_on)
    if e.confidence is not None and e.from_on is not None:
        return t("page.likely", window=window, percent=t.percent(e.confidence))
    return window


def _package(t: Translator, p: Package, n: int, total: int, scans: list[ScanRow]) -> dict[str, Any]:
    problem = next_step = None
    if p.problem is not None:
        if p.problem.code in {r.value for r in Reason} or p.problem.code in {
            m.value for m in Milestone
        }:
            problem = t.problem(p.status, p.reason) or p.problem.text
            next_step = t.next_step(p.status, p.reason, p.carrier_name)
        else:
            # Wismo's own findings are worded in English only for now.
            problem, next_step = p.problem.text, p.problem.next_step
    scan_text = None
    if p.last_scan is not None:
        # The answer already holds the scan in the zone the carrier reported it in.
        parts = [t.when(p.last_scan.at, p.last_scan.at.tzinfo)]
        if p.last_scan.location:
            parts.append(p.last_scan.location)
        scan_text = " · ".join(parts)
    e = p.estimate
    return {
        "n": n,
        "heading": t("page.package", n=n, total=total) if total > 1 else p.carrier_name,
        "status": t.status(p.status),
        "late": p.late,
        "predicted_late": p.predicted_late,
        "problem": problem,
        "next_step": next_step,
        "delivered": t("page.delivered_on", date=t.when(p.delivered_at))
        if p.delivered_at
        else None,
        "estimate": _window(t, e) if e else None,
        "estimate_source": t(f"page.source.{e.source}", carrier=p.carrier_name) if e else None,
        "carrier": p.carrier_name + (f" ({p.service_level})" if p.service_level else ""),
        "tracking_number": p.tracking_number,
        "last_update": scan_text,
        "contents": [(i.title, i.quantity) for i in p.contents],
        "scans": [_scan(t, s) for s in scans],
    }


def _scan(t: Translator, s: ScanRow) -> dict[str, Any]:
    try:
        status = t.status(Milestone(s.milestone))
    except ValueError:
        status = s.milestone
    return {
        "status": status,
        "when": t.when(s.occurred_at, reported_zone(s.occurred_tz)),
        "place": s.location,
        "description": s.description,
    }
