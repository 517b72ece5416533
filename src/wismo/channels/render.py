"""Renders a claimed notification into a message: wording in the customer's language,
dates in their locale and zone (babel), HTML escaped by Jinja2's autoescape."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency
from jinja2 import Environment, FileSystemLoader, select_autoescape

from wismo.channels.texts import CHROME, TEXTS
from wismo.domain.notify import zone_or_utc
from wismo.services.notify import Message
from wismo.services.ports import Claimed

_TEMPLATES = Path(__file__).parent / "templates"


class TemplateRenderer:
    """`link_for(n)` gives the path of the order's page; `public_url` is prefixed to it."""

    def __init__(
        self,
        public_url: str,
        link_for: Callable[[Claimed], str],
        unsubscribe_for: Callable[[Claimed], str],
    ) -> None:
        self._public_url = public_url.rstrip("/")
        self._link_for = link_for
        self._unsubscribe_for = unsubscribe_for
        self._env = Environment(
            loader=FileSystemLoader(_TEMPLATES),
            autoescape=select_autoescape(["html"]),
            keep_trailing_newline=True,
        )
        self._html = self._env.get_template("email.html")
        self._text = self._env.get_template("email.txt")

    def __call__(self, n: Claimed) -> Message:
        lang = n.language if n.language in TEXTS else "en"
        texts = TEXTS[lang]
        subject_t, body_t = texts.get(n.template) or texts[n.trigger]
        zone = zone_or_utc(n.time_zone)
        values = {
            "order": n.order_number,
            "store": n.store_name,
            "date": _date(n.payload, lang, zone),
            "amount": _amount(n.payload, lang),
        }
        subject, body = subject_t.format(**values), body_t.format(**values)
        link = self._public_url + self._link_for(n)
        common = {"store": n.store_name, "subject": subject, "body": body, "link": link}
        if n.channel == "email":
            unsubscribe = self._public_url + self._unsubscribe_for(n)
            ctx = {**common, "lang": lang, "chrome": CHROME[lang], "unsubscribe": unsubscribe}
            return Message(
                idempotency_key=n.idempotency_key,
                channel="email",
                recipient=n.recipient,
                subject=subject,
                text=self._text.render(ctx),
                html=self._html.render(ctx),
                headers={
                    # RFC 8058 one-click: mail clients POST to the URL without a page.
                    "List-Unsubscribe": f"<{unsubscribe}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                },
            )
        if n.channel == "sms":
            return Message(
                idempotency_key=n.idempotency_key,
                channel="sms",
                recipient=n.recipient,
                subject=subject,
                text=f"{n.store_name}: {body} {link}",
            )
        return Message(
            idempotency_key=n.idempotency_key,
            channel=n.channel,
            recipient=n.recipient,
            subject=subject,
            text=body,
            data={
                "id": n.idempotency_key,
                "type": f"notification.{n.trigger}",
                "order_number": n.order_number,
                "shipment_id": n.shipment_id,
                "milestone": n.milestone,
                "detail": n.payload,
                "tracking_url": link,
            },
        )


def _date(payload: dict[str, object], lang: str, zone: object) -> str:
    raw = payload.get("estimate_on") or payload.get("at")
    if not isinstance(raw, str):
        return ""
    try:
        if len(raw) == 10:
            return format_date(date.fromisoformat(raw), format="full", locale=lang)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return ""
    return format_datetime(moment, format="medium", tzinfo=zone, locale=lang)  # type: ignore[arg-type]


def _amount(payload: dict[str, object], lang: str) -> str:
    try:
        amount = Decimal(str(payload.get("amount")))
    except InvalidOperation:
        return ""
    return format_currency(amount, str(payload.get("currency") or "USD"), locale=lang)
