"""Channels: how messages reach people (email over SMTP, SMS through Twilio, Web Push, a
signed webhook) and how their answers come back (delivery reports, STOP, unsubscribe);
also the agent's outward ports: the retailer's help desk and an optional language model.

Message channels implement `wismo.services.notify.NotificationChannel`; `helpdesk` and
`llm` implement `wismo.conversation.ports`. Adapters may import
services and domain; never storage, ingestion, web or cli (import-linter holds it).
"""
