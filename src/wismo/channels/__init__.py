"""Channels: how messages reach people (email over SMTP, SMS through Twilio, a signed
webhook) and how their answers come back (delivery reports, STOP, unsubscribe).

Each module implements `wismo.services.notify.NotificationChannel`. Adapters may import
services and domain; never storage, ingestion, web or cli (import-linter holds it).
"""
