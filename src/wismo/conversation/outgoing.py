"""The reply as sent: every piece checked against the facts it may use (`grounding`),
the whole reply replaced by the `fallback` prompt when one fails, and a language model's
phrasing used only when it passes the same check. The last gate before a customer reads
anything (ADR 0012)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from wismo.conversation.grounding import Facts, check
from wismo.conversation.ports import LanguageModel
from wismo.conversation.replies import Reply, prompt_reply

# Channels that show paragraphs; the others get one line.
PARAGRAPH_CHANNELS = frozenset({"chat", "terminal", "web", "widget", "email"})


def grounded_reply(
    pieces: Sequence[tuple[Reply, Facts]],
    *,
    channel: str,
    today: date | None,
    language_model: LanguageModel | None = None,
    language: str = "en",
) -> tuple[str, bool, tuple[str, ...]]:
    """The reply as sent, whether it passed the grounding check, and the violations.

    Each piece is checked against the facts it may use. One failing piece replaces the
    whole reply with the `fallback` prompt (grounded False). A language model's phrasing
    of the draft is used only if it passes the same check against all the pieces' facts;
    a rejected phrasing is recorded as `llm:` violations, and the template text is sent.
    """
    violations: list[str] = []
    facts = Facts.empty()
    for reply, allowed in pieces:
        facts = facts.merge(allowed)
        found = check(reply.text, allowed, language=reply.language, today=today)
        violations.extend(f"{v.kind}: {v.value}" for v in found)
    if violations:
        fallback = prompt_reply("fallback", channel=channel, language=language)
        return fallback.text, False, tuple(violations)
    sep = "\n\n" if channel in PARAGRAPH_CHANNELS else " "
    draft = sep.join(r.text for r, _ in pieces)
    if language_model is not None and draft:
        phrased = language_model.phrase(draft, channel=channel, language=language)
        if phrased and phrased.strip():
            rejected = check(phrased, facts, language=language, today=today)
            if not rejected:
                return phrased, True, ()
            return draft, True, tuple(f"llm: {v.kind}: {v.value}" for v in rejected)
    return draft, True, ()
