"""The order-status agent: understanding, identity and disclosure, dialogue, grounded replies.

Channel-independent: chat, the terminal, SMS, email and voice all call `Agent.turn` and
render the same `Reply`. Like `wismo.services`, this package imports no framework and no
adapter (no SQLAlchemy, FastAPI, httpx, Pydantic; not `wismo.storage` or
`wismo.channels`): what it needs from outside (conversations, orders, help desk, one-time
codes, an optional language model) comes through the Protocols in `ports`.
"""
