"""Carrier detection from a tracking number: formats, check digits, ambiguity.

The fixed examples run anywhere. Where `../shared/data/tracking-numbers` is present, every
valid test number there must be detected as its courier and no invalid one may be.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wismo.cli.main import app
from wismo.ingestion.carriers.detect import detect, formats, normalise, parse_formats

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "tracking-numbers" / "couriers"

# courier code in the shared data -> the Wismo codes that count as that courier
COURIER = {
    "canada_post": {"canadapost"},
    "dhl": {"dhl_express", "dhl_ecommerce"},
}
NATIONAL_POSTS = {"usps", "royalmail", "canadapost", "australiapost", "laposte"}


def _is_courier(courier: str, found: list[str]) -> bool:
    if courier == "s10":
        return any(c.startswith("post_") or c in NATIONAL_POSTS for c in found)
    return bool(COURIER.get(courier, {courier}) & set(found))


def _shared_numbers() -> list[tuple[str, str, str, bool]]:
    """(courier, format name, number, valid) for every test number in the shared data."""
    if not SHARED.is_dir():
        pytest.skip(f"shared tracking-number data not present at {SHARED}")
    rows: list[tuple[str, str, str, bool]] = []
    for path in sorted(SHARED.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for fmt in data["tracking_numbers"]:
            tests = fmt.get("test_numbers", {})
            for number in tests.get("valid", []):
                rows.append((data["courier_code"], fmt["name"], number, True))
            for number in tests.get("invalid", []):
                rows.append((data["courier_code"], fmt["name"], number, False))
    return rows


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("1ZW81F120344556672", ["ups"]),
        ("1z w81f 1203 4455 6672", ["ups"]),  # spaces and case do not matter
        ("9400112345678901234566", ["usps"]),
        ("771234567890", ["fedex"]),
        ("4829130574", ["dhl_express"]),
        ("TT123456785GB", ["royalmail"]),
        ("TT123456785DE", ["deutschepost"]),
        ("TT123456785VN", ["post_vn"]),
    ],
)
def test_known_formats(number: str, expected: list[str]) -> None:
    """Numbers Wismo computed check digits for are detected as their carrier alone."""
    assert detect(number) == expected


@pytest.mark.parametrize(
    "number",
    [
        "1ZW81F120344556673",  # UPS with a wrong check digit
        "9400112345678901234567",  # USPS IMpb with a wrong check digit
        "TT123456786GB",  # S10 with a wrong check digit
        "TT123456785XX",  # S10 with no such country
        "",
        "   ",
        "hello world",
        "1" * 80,
    ],
)
def test_not_detected(number: str) -> None:
    """A wrong check digit, an unknown country or no format at all gives no carrier."""
    assert detect(number) == []


def test_ambiguous_number_lists_every_carrier() -> None:
    """A number valid for two carriers returns both; the caller must not pick one."""
    assert detect("312345600182") == ["fedex", "purolator"]


def test_best_first() -> None:
    """A distinctive prefix with a check digit ranks before a bare digit pattern."""
    found = detect("4201028200009261290113185417468510")
    assert found[0] == "usps"


def test_table_is_well_formed() -> None:
    """Every format row compiles and has the groups its check needs; bad rows are refused."""
    assert len(formats()) >= 39
    assert normalise(" 1z 9 ") == "1Z9"
    with pytest.raises(ValueError, match="line 1"):
        parse_formats("format,ups,broken,9,mod10 w=1.2,1Z[0-9]{16}")
    with pytest.raises(ValueError, match="unknown checksum"):
        parse_formats("format,ups,broken,9,crc99,(?P<s>[0-9])(?P<c>[0-9])")


def test_valid_shared_numbers_are_detected() -> None:
    """Every valid test number in the shared data is detected as its courier."""
    rows = [r for r in _shared_numbers() if r[3]]
    missed = [(c, f, n, detect(n)) for c, f, n, _ in rows if not _is_courier(c, detect(n))]
    assert not missed, missed
    assert len(rows) >= 190


def test_invalid_shared_numbers_are_not_detected_as_their_courier() -> None:
    """No invalid test number is detected as its courier, unless the same courier lists
    that exact number as valid for another of its formats."""
    rows = _shared_numbers()
    valid_for = {(c, n) for c, _, n, ok in rows if ok}
    wrong = [
        (c, f, n, detect(n))
        for c, f, n, ok in rows
        if not ok and (c, n) not in valid_for and _is_courier(c, detect(n))
    ]
    assert not wrong, wrong


def test_cli_detect() -> None:
    """`wismo carriers detect` prints the candidates, or "unknown" with exit code 1."""
    runner = CliRunner()
    ok = runner.invoke(app, ["carriers", "detect", "1ZW81F120344556672"])
    assert (ok.exit_code, ok.output) == (0, "ups\n")
    both = runner.invoke(app, ["carriers", "detect", "312345600182"])
    assert both.output.split() == ["fedex", "purolator"]
    none = runner.invoke(app, ["carriers", "detect", "nope"])
    assert (none.exit_code, none.output) == (1, "unknown\n")
