"""What comes back from notifications: Twilio delivery reports and inbound SMS keywords
(both verified by `X-Twilio-Signature`), and email unsubscribes (a confirm page, and the
RFC 8058 one-click POST that mail clients send).

An opt-out is honoured at once: it is stored and whatever is queued for the address is
suppressed in the same transaction. These bodies are not order events, so they bypass the
inbox; the opt-out table and the attempt history are their durable record.
"""

from __future__ import annotations

from html import escape
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from wismo.bootstrap import unsubscribe_tokens
from wismo.channels.sms import keyword, valid_signature
from wismo.storage.notifications import SqlRelayStore, notification_address
from wismo.web.deps import WismoDep

router = APIRouter(tags=["notifications"])

_MAX_FORM_BYTES = 64_000
_TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
_HELP = "Order updates from Wismo. Reply STOP to opt out, START to opt back in."


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise HTTPException(413, "body too large")
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise HTTPException(400, "body is not UTF-8 form data") from None


def _verify_twilio(w: WismoDep, request: Request, form: dict[str, str], sig: str | None) -> None:
    token = w.settings.twilio_auth_token
    if not token:
        raise HTTPException(404, "Twilio is not configured")
    # Twilio signs the URL it called: the public one, not what a proxy forwarded to us.
    url = w.settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    if not sig or not valid_signature(token, url, form, sig):
        raise HTTPException(403, "bad X-Twilio-Signature")


@router.post("/webhooks/twilio/status", status_code=204)
async def twilio_status(
    request: Request,
    w: WismoDep,
    x_twilio_signature: Annotated[str | None, Header()] = None,
) -> Response:
    """A delivery report (`MessageSid`, `MessageStatus`), recorded as an attempt."""
    form = await _form(request)
    _verify_twilio(w, request, form, x_twilio_signature)
    sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "")
    if sid and status:
        SqlRelayStore(w.engine).status_callback(sid[:200], status, w.clock())
    return Response(status_code=204)


@router.post("/webhooks/twilio/inbound")
async def twilio_inbound(
    request: Request,
    w: WismoDep,
    x_twilio_signature: Annotated[str | None, Header()] = None,
) -> Response:
    """STOP, START and HELP from a customer's phone, honoured before answering."""
    form = await _form(request)
    _verify_twilio(w, request, form, x_twilio_signature)
    phone = form.get("From", "")[:20]
    word = keyword(form.get("Body", ""))
    store = SqlRelayStore(w.engine)
    reply = _TWIML_EMPTY
    if phone and word in ("stop", "start"):
        for store_id in store.stores_for_address("sms", phone):
            if word == "stop":
                store.opt_out(store_id, "sms", phone, "sms_stop", w.clock())
            else:
                store.opt_in(store_id, "sms", phone)
    elif word == "help":
        reply = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Response><Message>{escape(_HELP)}</Message></Response>"
        )
    return Response(reply, media_type="application/xml")


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head><body><main><h1>{escape(title)}</h1>"
        f"{body}</main></body></html>"
    )


def _address(w: WismoDep, token: str) -> tuple[int, str, str]:
    found = unsubscribe_tokens(w).verify(token)
    if found is None:
        raise HTTPException(404, "this link is not valid")
    store_id, notification_id = found
    with w.engine.connect() as conn:
        address = notification_address(conn, store_id, notification_id)
    if address is None:
        raise HTTPException(404, "this link is not valid")
    return store_id, *address


@router.get("/notifications/unsubscribe", response_class=HTMLResponse)
async def unsubscribe_page(w: WismoDep, t: Annotated[str, Query(max_length=100)]) -> Response:
    """A confirm page: a GET must not unsubscribe (mail scanners follow links)."""
    _address(w, t)
    return _page(
        "Stop these emails?",
        f'<form method="post" action="/notifications/unsubscribe?t={escape(t)}">'
        '<button type="submit">Unsubscribe</button></form>',
    )


@router.post("/notifications/unsubscribe", response_class=HTMLResponse)
async def unsubscribe(w: WismoDep, t: Annotated[str, Query(max_length=100)]) -> Response:
    """The confirm form's POST, and RFC 8058's one-click POST (`List-Unsubscribe=One-Click`)."""
    store_id, channel, address = _address(w, t)
    SqlRelayStore(w.engine).opt_out(store_id, channel, address, "unsubscribe", w.clock())
    return _page("You are unsubscribed", "<p>You will get no more of these messages.</p>")
