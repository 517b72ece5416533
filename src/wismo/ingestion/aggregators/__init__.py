"""Tracking aggregators (EasyPost, AfterShip, Shippo): their webhook bodies -> commands.

One module per aggregator reads its webhook body into `RecordTrackingEvent` commands, one per
tracking detail, each naming the shipment by carrier AND tracking number (carriers recycle
numbers; storage picks the shipment by time). The aggregator's own status vocabulary is
mapped by data tables in `codes/<provider>.csv` (same format as the carrier code tables),
with the message classifier as fallback; carrier names by `codes/_carriers.csv`.
`signatures` checks that a webhook came from the aggregator. Pure: no I/O but the clock.

May import: wismo.domain, wismo.services.ports, wismo.ingestion.carriers.
"""
