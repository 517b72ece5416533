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
    # Signs the tracking page's order links (`wismo.services.links`). Empty: each store
    # gets a random key kept in the database, created on first use.
    link_secret: str = ""
    # Notifications (docs/notifications.md). Links in messages start with `public_url`; a
    # channel without its settings is not used (its messages fail with the reason).
    public_url: str = "http://127.0.0.1:8000"
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = ""
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""  # secret; also verifies Twilio's webhooks
    twilio_from: str = ""
    twilio_base_url: str = ""  # empty: Twilio's own API
    webhook_secret: str = ""  # signs the outbound webhook (HMAC-SHA256)
    # Web Push (`wismo push keys` makes a pair): the private key (secret; PEM or base64url
    # raw) and a contact for push services (`mailto:` or `https:`). Both, or no push.
    vapid_private_key: str = ""
    vapid_public_key: str = ""  # optional: derived from the private key; checked if set
    vapid_subject: str = ""
    push_allow_insecure: bool = False  # accept http:// and local endpoints (tests only)
    # The agent's handoff goes to a Zendesk-compatible help desk (`wismo.channels.helpdesk`);
    # an empty URL: no help desk configured.
    helpdesk_url: str = ""
    helpdesk_email: str = ""
    helpdesk_token: str = ""  # secret
    # Optional language model, any OpenAI-compatible server (`…/v1`); empty: off.
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""  # secret
    llm_timeout_seconds: float = 3.0

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
            link_secret=env.get("WISMO_LINK_SECRET", ""),
            public_url=env.get("WISMO_PUBLIC_URL", cls.public_url),
            smtp_host=env.get("WISMO_SMTP_HOST", ""),
            smtp_port=int(env.get("WISMO_SMTP_PORT", cls.smtp_port)),
            smtp_from=env.get("WISMO_SMTP_FROM", ""),
            twilio_account_sid=env.get("WISMO_TWILIO_ACCOUNT_SID", ""),
            twilio_auth_token=env.get("WISMO_TWILIO_AUTH_TOKEN", ""),
            twilio_from=env.get("WISMO_TWILIO_FROM", ""),
            twilio_base_url=env.get("WISMO_TWILIO_BASE_URL", ""),
            webhook_secret=env.get("WISMO_WEBHOOK_SECRET", ""),
            vapid_private_key=env.get("WISMO_VAPID_PRIVATE_KEY", ""),
            vapid_public_key=env.get("WISMO_VAPID_PUBLIC_KEY", ""),
            vapid_subject=env.get("WISMO_VAPID_SUBJECT", ""),
            push_allow_insecure=env.get("WISMO_PUSH_ALLOW_INSECURE", "").lower()
            in ("1", "true", "yes"),
            helpdesk_url=env.get("WISMO_HELPDESK_URL", ""),
            helpdesk_email=env.get("WISMO_HELPDESK_EMAIL", ""),
            helpdesk_token=env.get("WISMO_HELPDESK_TOKEN", ""),
            llm_base_url=env.get("WISMO_LLM_BASE_URL", ""),
            llm_model=env.get("WISMO_LLM_MODEL", ""),
            llm_api_key=env.get("WISMO_LLM_API_KEY", ""),
            llm_timeout_seconds=float(
                env.get("WISMO_LLM_TIMEOUT_SECONDS", cls.llm_timeout_seconds)
            ),
        )
