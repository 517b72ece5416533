"""Fakes of the agent's ports, shared by tests, the scenario runner and the terminal demo.

`InMemoryHelpDesk` keeps the handoffs it was given (and can be told to fail),
`RecordingCodeSender` keeps the codes it was asked to send, `FakeLanguageModel` answers
from scripts. Shipped inside the package, like `wismo.testing`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from wismo.conversation.ports import Handoff, HandoffError, Interpretation, TicketRef


class InMemoryHelpDesk:
    """Opens numbered tickets in memory. `fail` > 0: that many calls raise HandoffError."""

    def __init__(self, *, fail: int = 0, provider: str = "memory") -> None:
        self.tickets: list[tuple[TicketRef, Handoff]] = []
        self.calls = 0
        self.fail = fail
        self._provider = provider

    def open_ticket(self, handoff: Handoff) -> TicketRef:
        self.calls += 1
        if self.fail > 0:
            self.fail -= 1
            raise HandoffError("help desk unavailable (fake)")
        ref = TicketRef(self._provider, str(len(self.tickets) + 1), None)
        self.tickets.append((ref, handoff))
        return ref

    @property
    def handoffs(self) -> list[Handoff]:
        return [h for _, h in self.tickets]


@dataclass(frozen=True, slots=True)
class SentCode:
    store_id: int
    channel: str
    address: str
    code: str
    language: str


class RecordingCodeSender:
    """Records every code instead of sending it; `last` is what a test types back."""

    def __init__(self, *, fail: bool = False) -> None:
        self.sent: list[SentCode] = []
        self.fail = fail

    def send_code(
        self, store_id: int, channel: str, address: str, code: str, language: str
    ) -> None:
        if self.fail:
            raise OSError("cannot send the code (fake)")
        self.sent.append(SentCode(store_id, channel, address, code, language))

    @property
    def last(self) -> str:
        return self.sent[-1].code


@dataclass
class FakeLanguageModel:
    """Interprets from `interpretations` (exact text -> Interpretation, or a function) and
    phrases with `phrasing` (draft -> text, None to fail). Records what it was asked."""

    interpretations: Mapping[str, Interpretation] = field(default_factory=dict)
    interpreter: Callable[[str], Interpretation | None] | None = None
    phrasing: Callable[[str], str | None] | None = None
    interpreted: list[str] = field(default_factory=list)
    phrased: list[str] = field(default_factory=list)

    def interpret(
        self, text: str, *, intents: Sequence[str], language: str
    ) -> Interpretation | None:
        self.interpreted.append(text)
        if text in self.interpretations:
            return self.interpretations[text]
        return self.interpreter(text) if self.interpreter else None

    def phrase(self, draft: str, *, channel: str, language: str) -> str | None:
        self.phrased.append(draft)
        return self.phrasing(draft) if self.phrasing else None
