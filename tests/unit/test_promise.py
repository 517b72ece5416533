"""Which delivery estimate the customer sees."""

from __future__ import annotations

from datetime import date

import pytest

from wismo.domain.promise import (
    DEFAULT_PREFERENCE,
    EstimateSource,
    Predicted,
    choose,
    parse_preference,
)

TODAY = date(2026, 12, 1)
WINDOW = Predicted(date(2026, 12, 2), date(2026, 12, 3), date(2026, 12, 4), 0.8, "lane")


def pick(**kw: object) -> tuple[str, date] | None:
    args: dict[str, object] = {
        "today": TODAY,
        "carrier_on": None,
        "predicted": None,
        "promised_from_on": None,
        "promised_to_on": None,
    }
    args.update(kw)
    shown = choose(DEFAULT_PREFERENCE, **args)  # type: ignore[arg-type]
    return (shown.source.value, shown.likely_on) if shown else None


def test_carrier_first_while_its_date_is_ahead() -> None:
    assert pick(carrier_on=date(2026, 12, 5), predicted=WINDOW) == ("carrier", date(2026, 12, 5))
    assert pick(carrier_on=TODAY, predicted=WINDOW) == ("carrier", TODAY)


def test_a_stale_carrier_date_gives_way_to_wismo_then_the_promise() -> None:
    assert pick(carrier_on=date(2026, 11, 30), predicted=WINDOW) == ("wismo", date(2026, 12, 3))
    assert pick(carrier_on=date(2026, 11, 30), promised_to_on=date(2026, 12, 6)) == (
        "merchant_promise",
        date(2026, 12, 6),
    )


def test_wismo_window_only_when_learned_and_not_past() -> None:
    unlearned = Predicted(TODAY, TODAY, TODAY, 0.8, "none")
    past = Predicted(date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22), 0.8, "all")
    assert pick(predicted=unlearned) is None
    assert pick(predicted=past, promised_to_on=date(2026, 11, 25)) == (
        "merchant_promise",
        date(2026, 11, 25),
    )
    shown = choose(
        DEFAULT_PREFERENCE,
        today=TODAY,
        carrier_on=None,
        predicted=WINDOW,
        promised_from_on=None,
        promised_to_on=None,
    )
    assert shown is not None
    assert (shown.from_on, shown.to_on, shown.confidence) == (WINDOW.from_on, WINDOW.to_on, 0.8)


def test_a_past_promise_is_still_shown() -> None:
    assert pick(promised_to_on=date(2026, 11, 1)) == ("merchant_promise", date(2026, 11, 1))


def test_preference_is_configurable() -> None:
    order = parse_preference(" wismo , carrier ")
    assert order == (EstimateSource.WISMO, EstimateSource.CARRIER)
    shown = choose(
        order,
        today=TODAY,
        carrier_on=date(2026, 12, 5),
        predicted=WINDOW,
        promised_from_on=None,
        promised_to_on=date(2026, 12, 9),
    )
    assert shown is not None
    assert shown.source is EstimateSource.WISMO


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("carrier,eta", "unknown estimate source 'eta'"),
        ("carrier,carrier", "twice"),
    ],
)
def test_bad_preference_is_named(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_preference(text)
