"""Spellings tried when a customer types an order number."""

from __future__ import annotations

from wismo.domain.order_numbers import spellings


def test_typed_form_comes_first_then_store_conventions() -> None:
    """The literal text wins; case and a letters-digits separator are tried after it."""
    assert spellings(" nw20417 ") == ("nw20417", "NW20417", "NW-20417")
    assert spellings("#1042") == ("1042", "#1042")
    assert spellings("NW 20417")[:1] == ("NW 20417",)
    assert "NW-20417" in spellings("NW 20417")


def test_no_fuzzy_spellings() -> None:
    """Digits are never changed, and at most five spellings are tried."""
    for typed in ("1042", "A-10042", "purchase00123842", "x" * 40):
        for candidate in spellings(typed):
            assert [c for c in candidate if c.isdigit()] == [c for c in typed if c.isdigit()]
        assert len(spellings(typed)) <= 5
    assert spellings("") == ()
