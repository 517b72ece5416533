"""The `Parser` port for Shopify webhooks: format `shopify:<topic>`.

Orders, and fulfillments (whose documented `name` is "<order name>.<n>"), name their order.
Refunds and returns name it only by Shopify's order id, and `returns/decline` not at all;
Wismo keeps no Shopify order id (docs/adr/0006-shopify.md), so their order is found from
what Wismo does keep: the return (`return_ref`), the line items (`line_ref`) and, for a
return, the order name inside the return's name. An injected `OrderFinder` asks the
database; ids seen in recent payloads are remembered so most lookups never reach it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from wismo.domain.commands import Command
from wismo.ingestion.canonical import errors_of
from wismo.ingestion.shopify import mapping
from wismo.ingestion.shopify import payloads as p
from wismo.ingestion.shopify.mapping import PayloadError
from wismo.services.ports import Inbound, Parsed, Rejected


@dataclass(frozen=True, slots=True)
class OrderClues:
    """What a payload that does not name its order says about it."""

    shopify_order_id: int | None = None
    numbers: tuple[str, ...] = ()  # order numbers read from Shopify names, unconfirmed
    return_refs: tuple[str, ...] = ()
    line_refs: tuple[str, ...] = ()


# (store id, clues) -> the number of the store's order the clues point at, or None.
OrderFinder = Callable[[int, OrderClues], str | None]

ORDER_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
        "orders/paid",
    }
)
FULFILLMENT_TOPICS = frozenset({"fulfillments/create", "fulfillments/update"})
RETURN_TOPICS = frozenset(
    {"returns/request", "returns/approve", "returns/decline", "returns/close", "returns/cancel"}
)
CUSTOMER_TOPICS = frozenset({"customers/create", "customers/update"})
TOPICS = sorted(
    ORDER_TOPICS | FULFILLMENT_TOPICS | RETURN_TOPICS | CUSTOMER_TOPICS | {"refunds/create"}
)

_REMEMBER = 100_000  # ids kept in memory; past that the memory starts again


class Unresolved(Exception):
    """The payload's order cannot be found (yet)."""

    def __init__(self, clues: OrderClues) -> None:
        which = (
            f"the Shopify order {clues.shopify_order_id}"
            if clues.shopify_order_id is not None
            else "the order of this return"
        )
        super().__init__(
            f"{which} is not known to Wismo yet; import it (`wismo shopify backfill`) "
            "and replay this payload (`wismo inbox replay`)"
        )


class ShopifyParser:
    """Reads `Inbound(body, "shopify:<topic>")` into commands.

    `region_of` gives a store's country (phone numbers written without a country code);
    `find_order` finds the order of refunds and returns, see the module docstring.
    """

    def __init__(
        self,
        region_of: Callable[[int], str | None],
        clock: Callable[[], datetime],
        find_order: OrderFinder | None = None,
    ) -> None:
        self._region_of = region_of
        self._clock = clock
        self._find_order = find_order
        self._known: dict[tuple[int, str], str] = {}
        self._lock = threading.Lock()

    def __call__(self, store_id: int, inbound: Inbound) -> Parsed | Rejected:
        topic = inbound.format.partition(":")[2].strip().lower()
        source = inbound.source or mapping.SOURCE
        if topic not in TOPICS:
            return Rejected(
                [
                    {
                        "loc": ["topic"],
                        "msg": f"unsupported Shopify topic {topic!r}; Wismo reads "
                        + ", ".join(TOPICS),
                        "type": "topic_unknown",
                    }
                ],
                source,
                inbound.event_id,
            )
        try:
            commands = self._commands(store_id, topic, inbound.body)
        except ValidationError as exc:
            return Rejected(errors_of(exc), source, inbound.event_id)
        except PayloadError as exc:
            errors: list[dict[str, object]] = [{"loc": exc.loc, "msg": exc.msg, "type": exc.kind}]
            return Rejected(errors, source, inbound.event_id)
        except Unresolved as exc:
            errors = [{"loc": ["order"], "msg": str(exc), "type": "order_unknown"}]
            return Rejected(errors, source, inbound.event_id)
        return Parsed(source, inbound.event_id, tuple(commands))

    def _commands(self, store_id: int, topic: str, body: bytes) -> list[Command]:
        now = self._clock()
        if topic in ORDER_TOPICS:
            order = p.ORDER.validate_json(body)
            commands = mapping.order_commands(
                store_id, order, region=self._region_of(store_id), received_at=now
            )
            self._remember(store_id, [f"order:{order.id}"], mapping.order_number(order.name))
            return commands
        if topic in FULFILLMENT_TOPICS:
            f = p.FULFILLMENT.validate_json(body)
            named = mapping.order_number_of_fulfillment(f.name)
            if named is None:
                number = self._resolve(
                    store_id,
                    OrderClues(
                        shopify_order_id=f.order_id,
                        line_refs=tuple(str(li.id) for li in f.line_items or ()),
                    ),
                )
            else:
                number = named
                if f.order_id is not None:
                    self._remember(store_id, [f"order:{f.order_id}"], number)
            return mapping.fulfillment_commands(store_id, number, f, received_at=now)
        if topic == "refunds/create":
            r = p.REFUND.validate_json(body)
            if not mapping.pays_back(r):
                return []  # a restock-only refund: nothing for the customer to wait for
            number = self._resolve(
                store_id,
                OrderClues(
                    shopify_order_id=r.order_id,
                    return_refs=(mapping.return_ref(r.return_.id),) if r.return_ else (),
                    line_refs=tuple(
                        str(ln.line_item_id) for ln in r.refund_line_items or () if ln.line_item_id
                    ),
                ),
            )
            refund = mapping.refund_command(
                store_id, number, r, fallback_currency=mapping.refund_currency(r)
            )
            return [refund] if refund is not None else []
        if topic in RETURN_TOPICS:
            ret = p.RETURN.validate_json(body)
            order_id = ret.order.id if ret.order else ret.order_id
            suggested = mapping.order_number_of_return(ret.name)
            number = self._resolve(
                store_id,
                OrderClues(
                    shopify_order_id=order_id,
                    numbers=(suggested,) if suggested else (),
                    return_refs=(mapping.return_ref(ret.id),),
                    line_refs=mapping.return_line_refs(ret),
                ),
            )
            return [mapping.return_command(store_id, number, topic, ret, received_at=now)]
        # customers/create, customers/update
        c = p.CUSTOMER.validate_json(body)
        return [mapping.customer(store_id, c, locale=None, region=self._region_of(store_id))]

    def _resolve(self, store_id: int, clues: OrderClues) -> str:
        """The order number the clues point at; raises `Unresolved` when none is found."""
        keys: list[str] = []
        if clues.shopify_order_id is not None:
            keys.append(f"order:{clues.shopify_order_id}")
        keys += [f"return:{ref.removeprefix('shopify-')}" for ref in clues.return_refs]
        for key in keys:
            found = self._known.get((store_id, key))
            if found is not None:
                self._remember(store_id, keys, found)
                return found
        if self._find_order is not None and (clues.numbers or clues.return_refs or clues.line_refs):
            number = self._find_order(store_id, clues)
            if number is not None:
                self._remember(store_id, keys, number)
                return number
        raise Unresolved(clues)

    def _remember(self, store_id: int, keys: Iterable[str], number: str) -> None:
        # A Shopify id never moves to another order, so what is remembered stays true.
        with self._lock:
            if len(self._known) >= _REMEMBER:
                self._known.clear()
            for key in keys:
                self._known[(store_id, key)] = number
