"""What comes back from notifications: Twilio delivery reports and inbound SMS keywords
(both verified by `X-Twilio-Signature`), and email unsubscribes (a confirm page, and the
RFC 8058 one-click POST that mail clients send).

A verified Twilio body is stored in the inbox (source `twilio`) before it is applied, so a
failure stays listed (`wismo inbox list`) and can be applied again; a body whose signature
does not verify is refused (403) and not stored: anyone can post to these URLs, and a
forged STOP must leave no trace that a replay could act on. An opt-out is honoured at
once: stored, and whatever is queued for the address suppressed in the same transaction.
"""

from __future__ import annotations

import logging
from html import escape
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from wismo.bootstrap import Wismo, sms_inbound, unsubscribe_tokens
from wismo.channels.render import help_reply
from wismo.channels.sms import valid_signature
from wismo.services.sms_inbound import read_form
from wismo.storage.relay import SqlRelayStore, notification_address
from wismo.web.deps import WismoDep

log = logging.getLogger(__name__)
router = APIRouter(tags=["notifications"])

_MAX_FORM_BYTES = 64_000
_TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


async def _form(request: Request) -> tuple[bytes, dict[str, str]]:
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise HTTPException(413, "body too large")
    try:
        return body, read_form(body)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


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


async def _receive(w: Wismo, kind: str, body: bytes) -> str | None:
    try:
        return await anyio.to_thread.run_sync(sms_inbound(w).receive, kind, body)
    except Exception:
        # Not stored, or stored and not recorded: Twilio retries on a 5xx.
        log.exception("storing a Twilio %s webhook failed", kind)
        raise HTTPException(503, "storage unavailable; retry later") from None


@router.post("/webhooks/twilio/status", status_code=204)
async def twilio_status(
    request: Request,
    w: WismoDep,
    x_twilio_signature: Annotated[str | None, Header()] = None,
) -> Response:
    """A delivery report (`MessageSid`, `MessageStatus`): stored, then recorded as an
    attempt; `failed`/`undelivered` marks the message failed."""
    body, form = await _form(request)
    _verify_twilio(w, request, form, x_twilio_signature)
    await _receive(w, "status", body)
    return Response(status_code=204)


@router.post("/webhooks/twilio/inbound")
async def twilio_inbound(
    request: Request,
    w: WismoDep,
    x_twilio_signature: Annotated[str | None, Header()] = None,
) -> Response:
    """STOP, START and HELP from a customer's phone: stored, honoured before answering;
    HELP is answered with the store's help text (TwiML)."""
    body, form = await _form(request)
    _verify_twilio(w, request, form, x_twilio_signature)
    word = await _receive(w, "inbound", body)
    if word != "help":
        return Response(_TWIML_EMPTY, media_type="application/xml")
    info = await anyio.to_thread.run_sync(sms_inbound(w).help, body)
    reply = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Message>{escape(help_reply(info))}</Message></Response>"
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
