"""Settings, read once from the environment (`WISMO_*`). Zero configuration gives the
embedded SQLite store in the working directory."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///wismo.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # A single event is small; anything larger than this is refused before it is read whole.
    max_event_bytes: int = 1_000_000
    max_batch_bytes: int = 20_000_000
    max_batch_lines: int = 10_000
    # Single events posted over HTTP are committed together for up to this long, so a
    # burst of webhooks costs one commit, not one each.
    group_commit_ms: float = 2.0
    group_commit_max: int = 500
    # Which delivery estimate customers see, first usable wins (`wismo.domain.promise`).
    estimate_preference: str = "carrier,wismo,merchant_promise"
    # Exception thresholds per carrier and service: a JSON object, or a path to a JSON
    # file (`docs/delivery-estimates.md`). Empty: the defaults.
    exception_thresholds: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            database_url=env.get("WISMO_DATABASE_URL", DEFAULT_DATABASE_URL),
            max_event_bytes=int(env.get("WISMO_MAX_EVENT_BYTES", cls.max_event_bytes)),
            max_batch_bytes=int(env.get("WISMO_MAX_BATCH_BYTES", cls.max_batch_bytes)),
            max_batch_lines=int(env.get("WISMO_MAX_BATCH_LINES", cls.max_batch_lines)),
            group_commit_ms=float(env.get("WISMO_GROUP_COMMIT_MS", cls.group_commit_ms)),
            estimate_preference=env.get("WISMO_ESTIMATE_PREFERENCE", cls.estimate_preference),
            exception_thresholds=env.get("WISMO_EXCEPTION_THRESHOLDS", ""),
        )
