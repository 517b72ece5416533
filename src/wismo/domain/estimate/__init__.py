"""Wismo's own delivery-date prediction, learned from a store's delivery history (pure).

Transit is counted in business days of the destination's calendar from a parcel's start day
(`calendar`). A forecast draws on the recent transits of the parcel's lane, falling back to
coarser keys when a lane has too few, and rescaled to the lead the merchant promised
(`history`); its median may be moved to that of the last two weeks' cohort, parcels still
under way counted as censored (`cohorts`). The point estimate is the median, the windows
are quantiles at levels calibrated on where past deliveries fell in their forecasts
(`calibration`). `DeliveryEstimator` (`estimator`) ties these together and answers with a
`Forecast` (`forecast`).

Error, everywhere in Wismo, is the absolute number of calendar days between the predicted
and the actual delivery date in the customer's local calendar.
"""

from wismo.domain.estimate.calendar import WEEKEND, BusinessCalendar
from wismo.domain.estimate.calibration import CoverageCalibrator, PitRecalibrator, pit, quantile
from wismo.domain.estimate.cohorts import CensoredCohorts, kaplan_meier, survival_quantile
from wismo.domain.estimate.estimator import (
    ARRIVAL,
    HANDOVER,
    ORDER,
    DeliveryEstimator,
    promised_lead,
)
from wismo.domain.estimate.forecast import Forecast, Window
from wismo.domain.estimate.history import Lane, TransitModel

__all__ = [
    "ARRIVAL",
    "HANDOVER",
    "ORDER",
    "WEEKEND",
    "BusinessCalendar",
    "CensoredCohorts",
    "CoverageCalibrator",
    "DeliveryEstimator",
    "Forecast",
    "Lane",
    "PitRecalibrator",
    "TransitModel",
    "Window",
    "kaplan_meier",
    "pit",
    "promised_lead",
    "quantile",
    "survival_quantile",
]
