"""One module per carrier: the carrier's raw tracking response -> `Tracking`.

Each module defines NAME, DISPLAY_NAME, ALIASES (other names users may type) and
`parse(body: bytes) -> list[Tracking]`. Pure: no I/O, no clock. The registry finds modules
here by those names; adding a carrier is adding a module and its `codes/<NAME>.csv`.
"""
