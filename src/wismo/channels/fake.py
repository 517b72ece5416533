"""A channel that records messages in memory, for tests and the demo (fakes, not mocks)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from wismo.services.notify import Message, SendError, SendResult


class FakeChannel:
    def __init__(self, fail: Callable[[Message], SendError | None] | None = None) -> None:
        self.sent: list[Message] = []
        self._fail = fail

    def send(self, message: Message) -> SendResult:
        error = self._fail(message) if self._fail else None
        if error is not None:
            raise error
        self.sent.append(message)
        return SendResult(f"fake-{len(self.sent)}", "accepted")

    def lookup(self, message: Message, since: datetime) -> SendResult | None:
        for m in self.sent:
            if m.idempotency_key == message.idempotency_key:
                return SendResult("fake", "accepted", "found by lookup")
        return None
