"""Handoff to the retailer's help desk: Zendesk Support's Tickets API.

`POST /api/v2/tickets.json` with HTTP basic auth (`{email}/token:{api_token}`), one private
comment holding the summary and the transcript, so the person who takes over does not ask
the customer again. Personal data is sent on purpose (the help desk is where an agent needs
it); request and response bodies are never logged.

Retries: 429 (waiting `Retry-After` seconds), 5xx, timeouts and connection errors, with a
capped exponential backoff; any other 4xx is final. Zendesk has no idempotency key on ticket
creation, so every ticket carries `external_id` = the conversation id and a tag derived from
the handoff; after an attempt whose outcome is unknown (a timeout or a 5xx: the ticket may
exist), the adapter lists the tickets with that external id and returns the one it finds
instead of creating a second. `find_ticket` does the same for a caller that retries later.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from wismo.conversation.ports import Handoff, HandoffError, TicketRef

log = logging.getLogger(__name__)

PROVIDER = "zendesk"
# Reasons a person should look at first; Zendesk's priorities: urgent, high, normal, low.
HIGH_PRIORITY_REASONS = frozenset({"anger", "damaged_item", "missing_item"})
SUBJECT_MAX_CHARS = 150  # Zendesk truncates longer subjects in its views
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 8.0


def handoff_tag(handoff: Handoff) -> str:
    """A tag naming this one handoff, so a retry finds its own ticket and not an earlier
    one opened from the same conversation."""
    seed = f"{handoff.conversation_id}|{handoff.created_at.isoformat()}|{handoff.reason}"
    return "wismo_handoff_" + hashlib.sha256(seed.encode()).hexdigest()[:12]


def ticket_payload(handoff: Handoff) -> dict[str, Any]:
    """The Create Ticket body. The requester is named only when we have their email:
    Zendesk's requester object takes a name and an email, not a phone number (the phone
    goes into the comment)."""
    subject = f"{handoff.reason_text} ({handoff.channel})"
    if handoff.order_number:
        subject = f"Order {handoff.order_number}: {subject}"
    ticket: dict[str, Any] = {
        "subject": subject[:SUBJECT_MAX_CHARS],
        "comment": {"body": comment_body(handoff), "public": False},
        "priority": "high" if handoff.reason in HIGH_PRIORITY_REASONS else "normal",
        "tags": _tags(handoff),
        "external_id": handoff.conversation_id,
    }
    if handoff.contact and "@" in handoff.contact:
        requester = {"email": handoff.contact}
        if handoff.customer_name:
            requester["name"] = handoff.customer_name
        ticket["requester"] = requester
    return {"ticket": ticket}


def comment_body(handoff: Handoff) -> str:
    verified = "no"
    if handoff.verified:
        method = handoff.verification_method
        verified = f"yes ({method})" if method else "yes"
    lines = [
        handoff.summary,
        "",
        f"Reason: {handoff.reason_text} [{handoff.reason}]",
        f"Order: {handoff.order_number or 'unknown'}",
        f"Name: {handoff.customer_name or 'unknown'}",
        f"Contact: {handoff.contact or 'unknown'}",
        f"Identity verified: {verified}",
        f"Channel: {handoff.channel}",
        f"Conversation: {handoff.conversation_id} (store {handoff.store_id})",
        f"Handed over at: {handoff.created_at.isoformat()}",
        "",
        "Transcript:",
    ]
    lines += [
        f"{'Customer' if who == 'customer' else 'Agent'}: {text}"
        for who, text in handoff.transcript
    ]
    return "\n".join(lines)


def _tags(handoff: Handoff) -> list[str]:
    tags = ["wismo", f"wismo_{handoff.reason}", f"wismo_{handoff.channel}", handoff_tag(handoff)]
    for tag in handoff.tags:
        # Zendesk splits tags on spaces; keep each of ours one tag.
        cleaned = "_".join(tag.lower().split())
        if cleaned and cleaned not in tags:
            tags.append(cleaned)
    return tags


class ZendeskHelpDesk:
    """`wismo.conversation.ports.HelpDesk` for Zendesk Support (or a server speaking its
    Tickets API). `sleep` is injectable so tests record the waits instead of waiting."""

    def __init__(
        self,
        base_url: str,
        email: str,
        api_token: str,
        *,
        timeout_seconds: float = 10.0,
        max_attempts: int = 4,
        max_retry_after_seconds: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        credentials = base64.b64encode(f"{email}/token:{api_token}".encode()).decode()
        self._client = httpx.Client(
            timeout=timeout_seconds,
            headers={"Authorization": f"Basic {credentials}", "Accept": "application/json"},
        )
        self._max_attempts = max(1, max_attempts)
        # A Retry-After longer than this is not waited for inside a conversation turn: the
        # handoff fails here and whoever queued it tries again later.
        self._max_retry_after_seconds = max_retry_after_seconds
        self._sleep = sleep

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ZendeskHelpDesk:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    def open_ticket(self, handoff: Handoff) -> TicketRef:
        payload = ticket_payload(handoff)
        url = f"{self._base_url}/api/v2/tickets.json"
        maybe_created = False
        last_error = "no attempt made"
        for attempt in range(1, self._max_attempts + 1):
            if maybe_created:
                found = self.find_ticket(handoff)
                if found is not None:
                    log.info(
                        "helpdesk: ticket %s already existed, not created again", found.ticket_id
                    )
                    return found
            wait_seconds = _backoff_seconds(attempt)
            try:
                response = self._client.post(url, json=payload)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Nothing reached the server: no ticket can exist from this attempt.
                last_error = f"help desk unreachable: {type(exc).__name__}"
            except httpx.HTTPError as exc:
                maybe_created = True
                last_error = f"help desk did not answer: {type(exc).__name__}"
            else:
                status = response.status_code
                if status in (200, 201):
                    return self._ref(response)
                message = _error_message(response)
                if status == 429:
                    retry_after = _seconds(response.headers.get("Retry-After"))
                    last_error = f"help desk rate limit (429): {message}"
                    if retry_after is not None:
                        if retry_after > self._max_retry_after_seconds:
                            raise HandoffError(
                                f"{last_error}; retry after {retry_after:g}s"
                            ) from None
                        wait_seconds = retry_after
                elif status >= 500:
                    maybe_created = True
                    last_error = f"help desk error ({status}): {message}"
                elif (
                    status == 422
                    and "requester" in payload["ticket"]
                    and "requester" in _invalid_fields(response)
                ):
                    # An email the customer mistyped must not lose the handoff: the contact
                    # is in the comment anyway, so the ticket goes without a requester.
                    del payload["ticket"]["requester"]
                    last_error = f"help desk refused the requester ({status}): {message}"
                    wait_seconds = 0.0
                else:
                    raise HandoffError(f"help desk refused the ticket ({status}): {message}")
            log.warning(
                "helpdesk: attempt %d/%d failed: %s", attempt, self._max_attempts, last_error
            )
            if attempt < self._max_attempts and wait_seconds > 0:
                self._sleep(wait_seconds)
        if maybe_created:
            found = self.find_ticket(handoff)
            if found is not None:
                return found
        raise HandoffError(f"{last_error} (after {self._max_attempts} attempts)")

    def find_ticket(self, handoff: Handoff) -> TicketRef | None:
        """The ticket this handoff already opened, if any (None also when the help desk
        cannot be asked: the caller then sends again, as a duplicate beats a lost handoff)."""
        try:
            response = self._client.get(
                f"{self._base_url}/api/v2/tickets.json",
                params={"external_id": handoff.conversation_id},
            )
        except httpx.HTTPError as exc:
            log.warning("helpdesk: lookup failed: %s", type(exc).__name__)
            return None
        if response.status_code != 200:
            log.warning("helpdesk: lookup answered %d", response.status_code)
            return None
        try:
            tickets = response.json().get("tickets") or []
        except ValueError:
            return None
        tag = handoff_tag(handoff)
        for ticket in tickets:
            if isinstance(ticket, Mapping) and tag in (ticket.get("tags") or ()):
                ref = self._ref_of(ticket)
                if ref is not None:
                    return ref
        return None

    def _ref(self, response: httpx.Response) -> TicketRef:
        try:
            ticket = response.json().get("ticket")
        except ValueError:
            ticket = None
        ref = self._ref_of(ticket) if isinstance(ticket, Mapping) else None
        if ref is None:
            # Created, but we cannot say which ticket: report it rather than send again.
            raise HandoffError(f"help desk answered {response.status_code} without a ticket id")
        return ref

    def _ref_of(self, ticket: Mapping[str, Any]) -> TicketRef | None:
        ticket_id = ticket.get("id")
        if (
            not isinstance(ticket_id, int | str)
            or isinstance(ticket_id, bool)
            or not str(ticket_id)
        ):
            return None
        # The agent-facing page, not the API resource in `ticket.url`: it is for people.
        return TicketRef(PROVIDER, str(ticket_id), f"{self._base_url}/agent/tickets/{ticket_id}")


def _backoff_seconds(attempt: int) -> float:
    return float(min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (attempt - 1)))


def _seconds(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
    return seconds if seconds is not None and seconds >= 0 else None


def _invalid_fields(response: httpx.Response) -> set[str]:
    try:
        details = response.json().get("details")
    except (ValueError, AttributeError):
        return set()
    return {str(k) for k in details} if isinstance(details, Mapping) else set()


def _error_message(response: httpx.Response) -> str:
    """Zendesk's error text: `{"error": "RecordInvalid", "description": ..., "details":
    {field: [{"description": ...}]}}`, `{"error": "Couldn't authenticate you"}`, or
    `{"error": {"title": ..., "message": ...}}`."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or f"HTTP {response.status_code}"
    if not isinstance(body, Mapping):
        return f"HTTP {response.status_code}"
    parts: list[str] = []
    error = body.get("error")
    if isinstance(error, str):
        parts.append(error)
    elif isinstance(error, Mapping):
        parts += [str(error[k]) for k in ("title", "message") if error.get(k)]
    if isinstance(body.get("description"), str):
        parts.append(body["description"])
    details = body.get("details")
    if isinstance(details, Mapping):
        for field_name, problems in details.items():
            for problem in problems if isinstance(problems, list) else [problems]:
                text = problem.get("description") if isinstance(problem, Mapping) else problem
                parts.append(f"{field_name}: {text}")
    return "; ".join(parts) or f"HTTP {response.status_code}"
