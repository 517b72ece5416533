"""The app factory the server of `bench http` runs: `uvicorn --factory bench.http_app:app`.

It is the production app, `create_app()` configured from the environment (the database URL
comes in as WISMO_DATABASE_URL), unchanged; it lives here so the benchmark names what it
serves in one place.
"""

from __future__ import annotations

from fastapi import FastAPI

from wismo.web.app import create_app


def app() -> FastAPI:
    return create_app()
