"""Renders a claimed notification into a message: wording in the customer's language,
dates in their locale and zone (babel), HTML escaped by Jinja2's autoescape.

Split orders: the claim puts the order's packages as they are at sending in the payload
(`packages`: this package's place and items, how many are delivered, what is still to
ship), and the message says it in a sentence or two after its body."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency
from jinja2 import Environment, FileSystemLoader, select_autoescape

from wismo.channels.push import push_message
from wismo.channels.texts import CHROME, HELP, HELP_CONTACT, SPLIT, TEXTS
from wismo.domain.notify import zone_or_utc
from wismo.services.notify import Message
from wismo.services.ports import Claimed
from wismo.services.sms_inbound import HelpInfo

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
        packages = n.payload.get("packages")
        packages = packages if isinstance(packages, Mapping) else {}
        values = {
            "order": n.order_number,
            "store": n.store_name,
            "date": _date(n.payload, lang, zone),
            "amount": _amount(n.payload, lang),
            "count": packages.get("count", ""),
        }
        subject, body = subject_t.format(**values), body_t.format(**values)
        notes = split_notes(n.trigger, packages, lang)
        link = self._public_url + self._link_for(n)
        common = {
            "store": n.store_name,
            "subject": subject,
            "body": body,
            "notes": notes,
            "link": link,
        }
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
        if n.channel == "push":
            return push_message(n, subject, body, link)
        if n.channel == "sms":
            return Message(
                idempotency_key=n.idempotency_key,
                channel="sms",
                recipient=n.recipient,
                subject=subject,
                text=" ".join([f"{n.store_name}: {body}", *notes, link]),
            )
        return Message(
            idempotency_key=n.idempotency_key,
            channel=n.channel,
            recipient=n.recipient,
            subject=subject,
            text=" ".join([body, *notes]),
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


def split_notes(trigger: str, packages: Mapping[str, object], lang: str) -> list[str]:
    """What a shipped or delivered message of a split order adds: which package this is
    and what it holds, how many have arrived, what is still to ship."""
    if not packages or trigger not in ("shipped", "delivered"):
        return []
    words = SPLIT[lang]
    count, index = packages.get("count"), packages.get("index")
    delivered = packages.get("delivered")
    unshipped = _items(packages.get("unshipped"), words)
    notes = []
    if trigger == "shipped":
        items = _items(packages.get("items"), words)
        if items and isinstance(count, int) and count > 1 and not unshipped:
            notes.append(words["package_of"].format(index=index, count=count, items=items))
        elif items:
            notes.append(words["package"].format(items=items))
    elif isinstance(count, int) and isinstance(delivered, int) and delivered < count:
        notes.append(words["delivered_part"].format(delivered=delivered, count=count))
    if unshipped:
        notes.append(words["to_ship"].format(items=unshipped))
    return notes


def _items(raw: object, words: Mapping[str, str], shown: int = 3) -> str:
    """ "2 x Blue mug, 1 x Red cup, 2 more": short, and in the GSM alphabet (a times sign
    or an ellipsis would make the whole SMS UCS-2, half as long per segment)."""
    if not isinstance(raw, list):
        return ""
    parts = []
    for item in raw[:shown]:
        if isinstance(item, Mapping):
            title = str(item.get("title", ""))
            title = title if len(title) <= 40 else title[:37] + "..."
            parts.append(f"{item.get('quantity')} x {title}")
    if len(raw) > shown:
        parts.append(words["more"].format(n=len(raw) - shown))
    return ", ".join(parts)


def help_reply(info: HelpInfo | None) -> str:
    """The answer to an SMS HELP: the store's own text, else its name, support contact and
    the keywords, in the language of its last message to the sender."""
    if info is None:  # a number no store has messaged
        return "Order updates from Wismo. Reply STOP to opt out, START to opt back in."
    if info.text:
        return info.text
    lang = info.language if info.language in HELP else "en"
    contact = HELP_CONTACT[lang].format(contact=info.contact) if info.contact else ""
    return HELP[lang].format(store=info.store_name, contact=contact)


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
