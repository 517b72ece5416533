"""Carrier tracking: one module per carrier turns the carrier's own tracking response
(JSON or XML, exactly as its API returns it) into scans; code tables in `codes/*.csv` map
the carrier's codes onto Wismo's milestones and reasons; `classifier` reads the message
when a code is unknown. Wismo's state machine, not the carrier's latest event, decides the
shipment's status.

May import: wismo.domain, wismo.services.ports. Must not import storage or entry points.
"""
