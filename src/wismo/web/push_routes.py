"""Web Push opt-in from the tracking page: the browser's subscription in and out, the
VAPID public key, the service worker and the page's small script.

Open routes like the page: the signed order link in the path is the credential, so only
someone holding the order's link can subscribe a browser to its news. Bodies are JSON
(`PushSubscription.toJSON()`); a bad one is a 422 naming the field. Endpoints must be
https on a named host (our relay POSTs to them: no IP literals, no local names), unless
`push_allow_insecure` (tests, with a local push service).

Progressive enhancement: the page carries the opt-in block `hidden`, and `push.js` shows
it only where a service worker and `PushManager` exist. Without JavaScript the page is
what it was; with it, everything comes from our own origin.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from wismo.bootstrap import Wismo, push_public_key
from wismo.channels.push import valid_subscription_keys
from wismo.domain.notify import NotifyChannel
from wismo.services.i18n import negotiate
from wismo.services.links import LinkError, LinkTarget
from wismo.storage import push as push_db
from wismo.storage.notifications import store_rules
from wismo.web.deps import WismoDep, json_response, problem

log = logging.getLogger(__name__)
router = APIRouter(tags=["web push"], include_in_schema=False)

MAX_BODY_BYTES = 4_096
Token = Annotated[str, PathParam(max_length=100)]
_STATIC = Path(__file__).parent / "static"
_SERVICE_WORKER = (_STATIC / "sw.js").read_bytes()
_PAGE_SCRIPT = (_STATIC / "push.js").read_bytes()
_SCRIPT_HEADERS = {
    "Cache-Control": "no-cache",  # a new worker reaches browsers on their next visit
    "X-Content-Type-Options": "nosniff",
}
# What the order page's CSP adds when it offers push: its own script, its own fetches,
# its own service worker; still nothing from other hosts.
PAGE_CSP_ADDITION = "; script-src 'self'; connect-src 'self'; worker-src 'self'"

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "heading": "Browser notifications",
        "intro": "Get this order's news in this browser, even with the page closed.",
        "on": "Turn on notifications",
        "off": "Turn off notifications",
        "enabled": "Notifications are on in this browser.",
        "disabled": "Notifications are off.",
        "denied": "This browser blocks notifications from this site (see its settings).",
        "failed": "That did not work. Please try again.",
    },
    "fr": {
        "heading": "Notifications du navigateur",
        "intro": "Recevez les nouvelles de cette commande dans ce navigateur, page fermée.",
        "on": "Activer les notifications",
        "off": "Désactiver les notifications",
        "enabled": "Les notifications sont activées dans ce navigateur.",
        "disabled": "Les notifications sont désactivées.",
        "denied": "Ce navigateur bloque les notifications de ce site (voir ses réglages).",
        "failed": "Cela n'a pas fonctionné. Veuillez réessayer.",
    },
    "es": {
        "heading": "Notificaciones del navegador",
        "intro": "Recibe las novedades de este pedido en este navegador, con la página cerrada.",
        "on": "Activar notificaciones",
        "off": "Desactivar notificaciones",
        "enabled": "Las notificaciones están activadas en este navegador.",
        "disabled": "Las notificaciones están desactivadas.",
        "denied": "Este navegador bloquea las notificaciones de este sitio (ver su configuración).",
        "failed": "No ha funcionado. Inténtalo de nuevo.",
    },
}


def public_key(w: Wismo) -> str | None:
    """The VAPID public key, or None when push is off (or misconfigured: logged, and the
    page then simply offers no push rather than failing)."""
    try:
        return push_public_key(w.settings)
    except ValueError as exc:
        log.error("web push is off: %s", exc)
        return None


def _store_pushes(w: Wismo, store_id: int) -> bool:
    with w.engine.connect() as conn:
        return NotifyChannel.PUSH in store_rules(conn, [store_id])[store_id].channels


def offer(w: Wismo, store_id: int, token: str, language: str) -> dict[str, Any] | None:
    """What the order page needs to offer push, or None when it should not."""
    key = public_key(w)
    if key is None or not _store_pushes(w, store_id):
        return None
    return {"action": f"/t/{token}/push", "public_key": key, "texts": TEXTS[language]}


def page_headers(headers: dict[str, str], *, worker: bool = True) -> dict[str, str]:
    """The page's headers with its CSP opened to its own scripts and fetches, and to its
    own service worker when it offers push."""
    addition = PAGE_CSP_ADDITION if worker else "; script-src 'self'; connect-src 'self'"
    csp = headers["Content-Security-Policy"] + addition
    return {**headers, "Content-Security-Policy": csp}


def _target(w: Wismo, token: str) -> LinkTarget | Response:
    try:
        return w.links.verify(token, w.clock())
    except LinkError as exc:
        if exc.reason == "expired":
            return problem(410, "this order link has expired")
        return problem(404, "no order behind this link")


def _invalid(loc: list[str], msg: str) -> Response:
    return problem(422, [{"loc": loc, "msg": msg, "type": "value_error"}])


async def _json(request: Request) -> dict[str, Any] | Response:
    if (request.headers.get("content-type") or "").split(";")[0].strip() != "application/json":
        return problem(415, "send the subscription as application/json")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return problem(413, f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _invalid([], "body is not JSON")
    if not isinstance(data, dict):
        return _invalid([], "body must be a JSON object")
    return data


def endpoint_problem(endpoint: Any, allow_insecure: bool) -> str | None:
    """Why an endpoint is refused, or None. The relay will POST to it, so it must look
    like a push service on the internet, not a way into our own network."""
    if not isinstance(endpoint, str) or not endpoint:
        return "required: the push service URL"
    if len(endpoint) > 2000:
        return "longer than 2000 characters"
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return "not a URL"
    if parts.scheme != "https" and not (allow_insecure and parts.scheme == "http"):
        return "must be an https URL"
    if not host:
        return "has no host"
    if parts.username or parts.password:
        return "must not carry credentials"
    if allow_insecure:
        return None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return "must name a host, not an IP address"
    if "." not in host or host.endswith((".localhost", ".local", ".internal", ".lan")):
        return "must be a public host"
    return None


@router.post("/t/{token}/push", status_code=201)
async def subscribe(request: Request, w: WismoDep, token: Token) -> Response:
    """Subscribe this browser to the order's news (the body of `PushSubscription`)."""
    target = _target(w, token)
    if not isinstance(target, LinkTarget):
        return target
    if public_key(w) is None or not _store_pushes(w, target.store_id):
        return problem(404, "push notifications are not offered here")
    data = await _json(request)
    if not isinstance(data, dict):
        return data
    endpoint = data.get("endpoint")
    why = endpoint_problem(endpoint, w.settings.push_allow_insecure)
    if why is not None:
        return _invalid(["endpoint"], why)
    keys = data.get("keys")
    if not isinstance(keys, dict):
        return _invalid(["keys"], "required: an object with p256dh and auth")
    for name in ("p256dh", "auth"):
        if not isinstance(keys.get(name), str) or not keys[name]:
            return _invalid(["keys", name], "required: a base64url string")
    bad = valid_subscription_keys(keys["p256dh"], keys["auth"])
    if bad == "p256dh":
        return _invalid(["keys", "p256dh"], "must be a P-256 public key (65 bytes, base64url)")
    if bad == "auth":
        return _invalid(["keys", "auth"], "must be a 16-byte secret (base64url)")
    language = data.get("language")
    if language is not None and (not isinstance(language, str) or len(language) > 35):
        return _invalid(["language"], "must be a language tag")
    try:
        with w.engine.begin() as conn:
            push_db.save(
                conn,
                target.store_id,
                target.order_id,
                endpoint=str(endpoint),
                p256dh=keys["p256dh"],
                auth=keys["auth"],
                language=negotiate(language) if language else None,
                now=w.clock(),
            )
    except LookupError:
        return problem(404, "no order behind this link")
    except push_db.TooManySubscriptions as exc:
        return problem(409, str(exc))
    return json_response({"status": "subscribed"}, 201)


@router.delete("/t/{token}/push", status_code=204)
async def unsubscribe(request: Request, w: WismoDep, token: Token) -> Response:
    """Turn this order's push off in this browser (body `{"endpoint": ...}`); 204 also
    when it was not on."""
    target = _target(w, token)
    if not isinstance(target, LinkTarget):
        return target
    data = await _json(request)
    if not isinstance(data, dict):
        return data
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > 2000:
        return _invalid(["endpoint"], "required: the subscription's endpoint")
    with w.engine.begin() as conn:
        push_db.revoke(conn, target.store_id, target.order_id, endpoint, w.clock())
    return Response(status_code=204)


@router.get("/push/vapid-public-key")
async def vapid_public_key(w: WismoDep) -> Response:
    """The applicationServerKey for `PushManager.subscribe()` (the page embeds it too)."""
    key = public_key(w)
    if key is None:
        return problem(404, "push notifications are not configured")
    return json_response({"public_key": key})


@router.get("/sw.js")
async def service_worker() -> Response:
    """Shows a push as a notification and opens its link on click. Served from the
    site's root so its scope covers every page."""
    return Response(_SERVICE_WORKER, media_type="text/javascript", headers=_SCRIPT_HEADERS)


@router.get("/static/push.js")
async def page_script() -> Response:
    return Response(_PAGE_SCRIPT, media_type="text/javascript", headers=_SCRIPT_HEADERS)
