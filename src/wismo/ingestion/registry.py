"""Routes each inbound payload to the parser of its format.

A format is "name" or "name:detail" ("canonical", "shopify:orders/create", "carrier:ups");
the registry dispatches on the name and the parser reads the detail from `Inbound.format`.
"""

from __future__ import annotations

from collections.abc import Mapping

from wismo.services.ports import Inbound, Parsed, Parser, Rejected


class ParserRegistry:
    def __init__(self, parsers: Mapping[str, Parser]) -> None:
        self._parsers = dict(parsers)

    def register(self, name: str, parser: Parser) -> None:
        self._parsers[name] = parser

    @property
    def formats(self) -> list[str]:
        return sorted(self._parsers)

    def __call__(self, store_id: int, inbound: Inbound) -> Parsed | Rejected:
        parser = self._parsers.get(inbound.format.split(":", 1)[0])
        if parser is None:
            return Rejected(
                [
                    {
                        "loc": ["format"],
                        "msg": f"unknown payload format {inbound.format!r}",
                        "type": "format_unknown",
                    }
                ],
                inbound.source,
                inbound.event_id,
            )
        return parser(store_id, inbound)
