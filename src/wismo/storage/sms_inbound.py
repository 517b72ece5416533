"""Storage for what Twilio sends back (`wismo.services.notify.InboundStore`): the inbox rows
of verified webhooks, and what applying them and answering HELP read.

The bodies go into the common inbox (source `twilio`, format `twilio:inbound` or
`twilio:status`), so `wismo inbox list` shows the ones that failed like any other payload.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select

from wismo.services.ports import Outcome
from wismo.services.sms_inbound import TWILIO, HelpInfo
from wismo.storage.inbox import SqlInbox
from wismo.storage.relay import SqlRelayStore
from wismo.storage.tables import inbox, notifications, stores


class SqlSmsInbound(SqlRelayStore):
    def store_of_message(self, provider_message_id: str) -> int | None:
        with self._engine.connect() as conn:
            found = conn.execute(
                select(notifications.c.store_id)
                .where(notifications.c.provider_message_id == provider_message_id)
                .limit(1)
            ).scalar()
        return int(found) if found is not None else None

    def inbox_add(
        self,
        store_ids: Sequence[int],
        item: tuple[str, str | None, str, bytes],
        now: datetime,
    ) -> list[tuple[int, int]]:
        added: list[tuple[int, int]] = []
        with self._engine.connect().execution_options(wismo_write=True) as conn, conn.begin():
            box = SqlInbox(conn)
            for store_id in sorted(set(store_ids)):
                [inbox_id] = box.add(store_id, [item], now)
                if inbox_id is not None:
                    added.append((inbox_id, store_id))
        return added

    def inbox_items(self, inbox_ids: Sequence[int]) -> list[tuple[int, int, str, bytes]]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(inbox.c.id, inbox.c.store_id, inbox.c.format, inbox.c.body)
                .where(inbox.c.id.in_(list(inbox_ids)), inbox.c.source == TWILIO)
                .order_by(inbox.c.id)
            ).all()
        return [(int(r.id), int(r.store_id), str(r.format), bytes(r.body)) for r in rows]

    def inbox_record(self, outcomes: Mapping[int, Outcome], now: datetime) -> None:
        with self._engine.connect().execution_options(wismo_write=True) as conn, conn.begin():
            SqlInbox(conn).record(outcomes, now)

    def help_info(self, channel: str, address: str) -> HelpInfo | None:
        """From the store that last messaged `address`, in that message's language."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(
                    notifications.c.store_id,
                    notifications.c.language,
                    stores.c.name,
                    stores.c.branding,
                )
                .join(stores, stores.c.id == notifications.c.store_id)
                .where(notifications.c.channel == channel, notifications.c.recipient == address)
                .order_by(notifications.c.id.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        branding = row.branding or {}
        contact = branding.get("support_email") or branding.get("support_url") or None
        return HelpInfo(
            store_name=str(row.name),
            language=str(row.language),
            text=self.rules(int(row.store_id)).help_text,
            contact=str(contact) if contact else None,
        )
