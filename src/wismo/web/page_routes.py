"""The customer tracking page: HTML, server-rendered, usable without JavaScript.

Open routes (no API key): the lookup form and its POST, one parcel by tracking number,
signed order links, and notification choices. Every failure is a friendly page with a
4xx status. Personal data never travels in a URL: the lookup is a POST, and links carry
only a signed order id. Nothing here logs request data.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from wismo.bootstrap import Wismo
from wismo.services.i18n import Translator, negotiate
from wismo.services.links import LinkError, LinkTarget
from wismo.services.ratelimit import RateLimiter
from wismo.services.status import OrderStatusAnswer
from wismo.storage import page as page_db
from wismo.web import page as view
from wismo.web import push_routes
from wismo.web.deps import WismoDep

router = APIRouter(tags=["tracking page"], include_in_schema=False)

MAX_FORM_BYTES = 4_096
VIEW_LINK_TTL = timedelta(hours=24)  # links the page puts in its own forms and switches
DOMAIN_CACHE_SECONDS = 30.0
HEADERS = {
    # Inline styles only; images from the page itself, data: URIs or the merchant's https
    # logo; forms post back here; no scripts at all.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: https:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

Slug = Annotated[str, Path(max_length=64)]
Lang = Annotated[str | None, Query(max_length=35)]


class Limits:
    """Lookups per client IP and per order number (docs/adr/0010). In this process only:
    several workers each keep their own buckets."""

    def __init__(self) -> None:
        self.per_client = RateLimiter(capacity=20, per_second=1 / 3)
        self.per_order = RateLimiter(capacity=10, per_second=1 / 30)
        self.domains: tuple[float, dict[str, str]] = (0.0, {})


def _limits(request: Request) -> Limits:
    state = request.app.state
    if not hasattr(state, "page_limits"):
        state.page_limits = Limits()
    limits: Limits = state.page_limits
    return limits


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _html(body: str, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return HTMLResponse(body, status_code, headers={**HEADERS, **(headers or {})})


def _translator(request: Request, store: page_db.PageStore, *langs: str | None) -> Translator:
    lang = negotiate(*langs, accept_language=request.headers.get("accept-language"))
    return Translator(lang, store.time_zone)


def _frame(request: Request, store: page_db.PageStore, t: Translator, home: str) -> view.Frame:
    return view.Frame(store, t, home, f"{request.url.path}?")


def _store(w: Wismo, slug: str) -> page_db.PageStore | None:
    with w.engine.connect() as conn:
        return page_db.store_by_slug(conn, slug)


def _custom_store(request: Request, w: Wismo) -> page_db.PageStore | None:
    """The store whose custom domain this request came to, if any (cached briefly)."""
    host = (request.headers.get("host") or "").split(":")[0].strip().lower()
    limits = _limits(request)
    loaded_at, domains = limits.domains
    if time.monotonic() - loaded_at > DOMAIN_CACHE_SECONDS:
        with w.engine.connect() as conn:
            domains = page_db.domains(conn)
        limits.domains = (time.monotonic(), domains)
    slug = domains.get(host)
    return _store(w, slug) if slug else None


def _no_store(request: Request) -> Response:
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not found</title>'
        "</head><body><main><h1>Not found</h1><p>There is no tracking page here.</p></main>"
        "</body></html>",
        404,
        headers=HEADERS,
    )


def _home(store: page_db.PageStore, custom: bool) -> str:
    return "/track" if custom else f"/track/{store.slug}"


async def _form(request: Request) -> dict[str, str] | None:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return None
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return None
    return {k: v[0] for k, v in fields.items() if v}


# --- lookup ---------------------------------------------------------------------------


@router.get("/track/{store_slug}", response_class=HTMLResponse)
def lookup_form(request: Request, store_slug: Slug, w: WismoDep, lang: Lang = None) -> Response:
    store = _store(w, store_slug)
    if store is None:
        return _no_store(request)
    return _lookup_form(request, w, store, lang, custom=False)


@router.get("/", response_class=HTMLResponse)
@router.get("/track", response_class=HTMLResponse)
def custom_domain_form(request: Request, w: WismoDep, lang: Lang = None) -> Response:
    store = _custom_store(request, w)
    if store is None:
        return _no_store(request)
    return _lookup_form(request, w, store, lang, custom=True)


def _lookup_form(
    request: Request, w: Wismo, store: page_db.PageStore, lang: str | None, *, custom: bool
) -> Response:
    t = _translator(request, store, lang)
    home = _home(store, custom)
    frame = _frame(request, store, t, home)
    return _html(view.lookup_page(frame, home))


@router.post("/track/{store_slug}", response_class=HTMLResponse)
async def lookup(request: Request, store_slug: Slug, w: WismoDep) -> Response:
    store = _store(w, store_slug)
    if store is None:
        return _no_store(request)
    return await _lookup(request, w, store, custom=False)


@router.post("/track", response_class=HTMLResponse)
async def custom_domain_lookup(request: Request, w: WismoDep) -> Response:
    store = _custom_store(request, w)
    if store is None:
        return _no_store(request)
    return await _lookup(request, w, store, custom=True)


async def _lookup(
    request: Request, w: Wismo, store: page_db.PageStore, *, custom: bool
) -> Response:
    form = await _form(request) or {}
    t = _translator(request, store, form.get("lang"))
    home = _home(store, custom)
    frame = _frame(request, store, t, home)
    number = form.get("order_number", "").strip()[:100]
    contact = {
        k: form[k].strip()[:320] or None
        for k in ("email", "phone", "postal_code")
        if form.get(k, "").strip()
    }
    limits = _limits(request)
    wait = limits.per_client.allow(f"{store.id}:{_client(request)}")
    if not wait and number:
        wait = limits.per_order.allow(f"{store.id}:{number.lstrip('#').lower()}")
    if wait:
        body = view.lookup_page(frame, home, error=t("page.too_many"), order_number=number)
        return _html(body, 429, {"Retry-After": str(max(1, round(wait)))})
    if not number or not contact:
        body = view.lookup_page(frame, home, error=t("page.need_contact"), order_number=number)
        return _html(body, 422)
    answer = w.status.lookup(store.id, number, **contact)
    if answer is None:
        # One page for an unknown order and for a wrong contact (docs/adr/0010).
        body = view.lookup_page(frame, home, error=t("page.not_found"), order_number=number)
        return _html(body, 404)
    target = LinkTarget(store.id, answer.order_id, w.clock() + VIEW_LINK_TTL)
    return _order(request, w, store, target, form.get("lang"), home=home, answer=answer)


# --- signed links ---------------------------------------------------------------------


@router.get("/t/{token}", response_class=HTMLResponse)
def signed_link(
    request: Request,
    w: WismoDep,
    token: Annotated[str, Path(max_length=100)],
    lang: Lang = None,
    saved: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    found = _verify(request, w, token, lang)
    if not isinstance(found, LinkTarget):
        return found
    with w.engine.connect() as conn:
        store = page_db.store_by_id(conn, found.store_id)
    if store is None:
        return _no_store(request)
    return _order(
        request, w, store, found, lang, home=_home(store, False), saved=bool(saved), token=token
    )


@router.post("/t/{token}/preferences", response_class=HTMLResponse)
async def save_preferences(
    request: Request, w: WismoDep, token: Annotated[str, Path(max_length=100)]
) -> Response:
    form = await _form(request) or {}
    found = _verify(request, w, token, form.get("lang"))
    if not isinstance(found, LinkTarget):
        return found
    # Unticked boxes are not sent: every channel the form shows is set, ticked or not.
    choice = {ch: form.get(ch) == "1" for ch in ("email", "sms")}
    with w.engine.begin() as conn:
        page_db.set_consent(conn, found.store_id, found.order_id, choice)
    lang = negotiate(form.get("lang"))
    return RedirectResponse(f"/t/{token}?lang={lang}&saved=1", 303, headers=HEADERS)


def _verify(request: Request, w: Wismo, token: str, lang: str | None) -> LinkTarget | Response:
    try:
        return w.links.verify(token, w.clock())
    except LinkError as exc:
        reason = exc.reason
    t = Translator(negotiate(lang, accept_language=request.headers.get("accept-language")))
    store = page_db.PageStore(0, "", "Order tracking", "UTC", {})
    frame = view.Frame(store, t, "/", f"{request.url.path}?")
    key = "page.link_expired" if reason == "expired" else "page.link_invalid"
    status = 410 if reason == "expired" else 404
    return _html(view.message_page(frame, t("page.title"), t(key)), status)


def _order(
    request: Request,
    w: Wismo,
    store: page_db.PageStore,
    target: LinkTarget,
    lang: str | None,
    *,
    home: str,
    answer: OrderStatusAnswer | None = None,
    saved: bool = False,
    token: str | None = None,
) -> Response:
    found = answer or w.status.by_id(store.id, target.order_id)
    if found is None:
        t = _translator(request, store, lang)
        frame = _frame(request, store, t, home)
        return _html(view.message_page(frame, t("page.title"), t("page.link_invalid")), 404)
    token = token or w.links.sign(store.id, found.order_id, target.expires_at)
    language = _translator(request, store, lang, found.language).language
    t = Translator(language, found.time_zone)
    with w.engine.connect() as conn:
        scans = page_db.scans(conn, store.id, found.order_id)
        consent = page_db.consent(conn, store.id, found.order_id)
    frame = view.Frame(store, t, home, f"/t/{token}?")
    push = push_routes.offer(w, store.id, token, language)
    body = view.order_page(
        frame,
        found,
        scans,
        consent=consent,
        prefs_action=f"/t/{token}/preferences",
        saved=saved,
        push=push,
        chat_link=token,
    )
    # The order page carries the chat widget (and, where offered, the push opt-in): its
    # CSP admits our own scripts and fetches, still nothing from other hosts.
    return _html(body, headers=push_routes.page_headers(HEADERS, worker=bool(push)))


# --- one parcel -----------------------------------------------------------------------


@router.get("/track/{store_slug}/parcel/{tracking_number}", response_class=HTMLResponse)
def parcel(
    request: Request,
    store_slug: Slug,
    tracking_number: Annotated[str, Path(max_length=64)],
    w: WismoDep,
    lang: Lang = None,
) -> Response:
    store = _store(w, store_slug)
    if store is None:
        return _no_store(request)
    t = _translator(request, store, lang)
    frame = _frame(request, store, t, _home(store, False))
    if _limits(request).per_client.allow(f"{store.id}:{_client(request)}"):
        return _html(view.message_page(frame, t("page.title"), t("page.too_many")), 429)
    with w.engine.connect() as conn:
        found = page_db.parcel_order(conn, store.id, tracking_number.strip())
        scans = page_db.scans(conn, store.id, found[0]) if found else {}
    answer = w.status.by_id(store.id, found[0]) if found else None
    body = view.parcel_page(frame, answer, found[1], scans) if answer and found else None
    if body is None:
        return _html(view.message_page(frame, t("page.title"), t("page.parcel_unknown")), 404)
    return _html(body)
