"""The HTTP API (FastAPI). Closed by default: every route but /healthz needs an API key.

Bodies are read raw and validated by the ingestion schema, not by FastAPI, so that a bad
payload is still stored in the inbox (and can be replayed) and the error names its fields.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from wismo.bootstrap import Wismo, bootstrap
from wismo.web import aggregator_routes, ingest_routes, page_routes, shopify_routes, status_routes
from wismo.web.batcher import GroupCommitter
from wismo.web.conversation_routes import router as conversation_router
from wismo.web.deps import problem
from wismo.web.metrics_routes import router as metrics_router
from wismo.web.notification_routes import router as notification_router
from wismo.web.push_routes import router as push_router


def create_app(wismo: Wismo | None = None) -> FastAPI:
    """Build the API around a bootstrapped Wismo (or bootstrap one from the environment)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        w = wismo or bootstrap()
        app.state.wismo = w
        app.state.committer = GroupCommitter(
            w.ingestor, w.settings.group_commit_ms, w.settings.group_commit_max
        )
        try:
            yield
        finally:
            app.state.committer.close()
            if wismo is None:
                w.close()

    app = FastAPI(
        title="Wismo",
        version="1",
        summary="One current record per order, and the answer to 'Where is my order?'.",
        lifespan=lifespan,
    )
    app.include_router(ingest_routes.router)
    app.include_router(status_routes.router)
    app.include_router(aggregator_routes.router)
    app.include_router(shopify_routes.router)
    app.include_router(metrics_router)
    app.include_router(notification_router)  # Twilio callbacks, unsubscribes (open)
    app.include_router(page_routes.router)  # the customer tracking page (open, HTML)
    app.include_router(conversation_router)  # the agent's conversations (open, per store)
    app.include_router(push_router)  # Web Push opt-in, service worker (open, token-signed)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return problem(exc.status_code, exc.detail, dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": [p for p in e["loc"] if p != "body"], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        return problem(422, errors)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory wismo.web.app:app_from_env`."""
    return create_app()
