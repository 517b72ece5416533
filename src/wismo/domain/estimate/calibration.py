"""Reading windows off a transit sample, and calibrating the levels they are read at (pure).

A window is a pair of empirical quantiles (`quantile`) whose levels are *calibrated on the
walk*: each resolved forecast adds where the delivery fell in the forecast's own
distribution (its PIT value, `pit`, `PitRecalibrator`), and the window's quantile levels are
the levels that held the stated share of recent deliveries. When transit drifts slower than
the recent history says (a peak season; deliveries still under way are missing from the
history), the PIT values pile up high and the window moves out. `CoverageCalibrator`
(adaptive conformal inference on the level) can trim the result further but is off by
default (`DeliveryEstimator.calibration_rate` 0): feedback arrives only on delivery, weeks
later, and an integral controller with that lag oscillates.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field


def quantile(sorted_values: Sequence[int], q: float) -> int:
    """The empirical q-quantile of sorted integers (lower nearest rank; q clamped to [0, 1])."""
    if not sorted_values:
        raise ValueError("no values")
    q = min(1.0, max(0.0, q))
    index = min(len(sorted_values) - 1, max(0, int(q * len(sorted_values) - 1e-9)))
    return sorted_values[index]


@dataclass(slots=True)
class CoverageCalibrator:
    """Adaptive conformal inference on the quantile level of a stated window.

    The window for confidence c is [Q((1 - l) / 2), Q((1 + l) / 2)] of the transit
    distribution; after each resolved prediction, l += rate * (missed - (1 - c)), so the
    long-run share of deliveries inside the windows converges to c whatever the drift.
    """

    confidence: float
    rate: float = 0.01
    level: float = -1.0  # starts at `confidence`

    def __post_init__(self) -> None:
        if not 0.0 < self.confidence < 1.0:
            raise ValueError("confidence must be in (0, 1)")
        if self.level < 0.0:
            self.level = self.confidence

    def bounds(self) -> tuple[float, float]:
        level = min(1.0, max(0.0, self.level))
        return (1.0 - level) / 2.0, (1.0 + level) / 2.0

    def resolve(self, covered: bool) -> None:
        missed = 0.0 if covered else 1.0
        self.level += self.rate * (missed - (1.0 - self.confidence))
        self.level = min(1.2, max(0.0, self.level))  # bounded: a long streak must not stick


@dataclass(slots=True)
class PitRecalibrator:
    """Quantile recalibration from where recent deliveries fell in their forecasts.

    Each resolved forecast adds its PIT value: the share of the forecast's transit sample
    below the actual transit (ties count half). When the history drifts (transit getting
    slower than the recent deliveries say, as in a peak season), the PIT values pile up
    near 1; `level(q)` maps a nominal quantile level to the level that, in the recent
    resolved forecasts, held a share q of deliveries below it.
    """

    recent: int = 500
    min_resolved: int = 50
    _pits: deque[float] = field(default_factory=deque)  # in the order they were added
    _ordered: list[float] = field(default_factory=list)  # the same values, sorted

    def add(self, pit: float) -> None:
        pit = min(1.0, max(0.0, pit))
        self._pits.append(pit)
        bisect.insort(self._ordered, pit)
        while len(self._pits) > self.recent:
            del self._ordered[bisect.bisect_left(self._ordered, self._pits.popleft())]

    @property
    def resolved(self) -> int:
        """How many resolved forecasts it holds (it acts from `min_resolved` on)."""
        return len(self._pits)

    def level(self, q: float) -> float:
        if len(self._ordered) < self.min_resolved:
            return q
        q = min(1.0, max(0.0, q))
        return self._ordered[min(len(self._ordered) - 1, int(q * len(self._ordered)))]


def pit(sample: Sequence[int], actual: int) -> float:
    """The mid-rank PIT value of `actual` in `sample` (0.5 for an empty sample)."""
    if not sample:
        return 0.5
    below = sum(1 for v in sample if v < actual)
    equal = sum(1 for v in sample if v == actual)
    return (below + equal / 2.0) / len(sample)
