"""Offline understanding of customer messages: intent, confidence, entities, language.

`understand(text)` returns an `Understanding`. The intent comes from a scikit-learn model
trained in-process, on first use, from the project's own labelled examples in
`data/<lang>.yaml` (no download, no model file); entities come from rules (`entities`,
`dates`, `tracking`). A language is a data file. Part of `wismo.conversation`, so the same
rule holds: standard library, scikit-learn, phonenumbers and PyYAML; no framework, no
adapter, nothing from `wismo.ingestion` (tracking-number shapes are re-stated in
`tracking`, see there why).
"""

from wismo.conversation.nlu.entities import Entities
from wismo.conversation.nlu.intents import INTENTS, ORDER_STATUS_FAMILY
from wismo.conversation.nlu.understanding import CONFIDENT, Understanding, understand

__all__ = ["CONFIDENT", "INTENTS", "ORDER_STATUS_FAMILY", "Entities", "Understanding", "understand"]
