"""The live demo: a simulated retailer feeding a real Wismo (`wismo demo`).

`simulator` invents Northwind Outfitters, a US outdoor-gear shop shipping to six countries
with six carriers, as a deterministic stream of canonical events (with the late, repeated
and out-of-order deliveries real feeds have); `run` builds an SQLite database from its
history, serves the API and keeps releasing the events that fall due on a simulated clock.
The end-to-end tests use the same pieces to check the whole platform.

This package is an entry point. It may import the composition root (`wismo.bootstrap`,
`wismo.config`), `wismo.storage.stores` to create the store and its keys, `wismo.web.app`
to serve, and the domain and service types it reads answers with; it goes through the
ingestor like any other source and never writes tables itself. Nothing imports it except
the `wismo demo` command, lazily.
"""
