"""Money: the seed tables, exactly, from both price lists."""

from __future__ import annotations

from decimal import Decimal

import pytest

from conftest import EXAMPLES
from storyboard.errors import InvalidStoryboard
from storyboard.plan.prices import builtin_prices, dollars, job_cost, load_price_list

R2V = "kwaivgi/kling-video-o3-pro/reference-to-video"

# seed 000_*: duration → (no video no sound, with sound, with reference video)
CURRENT = {3: ("$0.336", "$0.403", "$0.504"), 5: ("$0.560", "$0.672", "$0.840"),
           10: ("$1.120", "$1.344", "$1.680"), 15: ("$1.680", "$2.016", "$2.520")}
# seed 002_*
OLDER = {3: ("0.72", "0.90", "1.08"), 5: ("1.20", "1.50", "1.80"),
         10: ("2.40", "3.00", "3.60"), 15: ("3.60", "4.50", "5.40")}


@pytest.mark.parametrize("seconds", sorted(CURRENT))
def test_current_list_matches_the_seed_table(seconds):
    prices = builtin_prices()
    plain, sound, video = CURRENT[seconds]
    assert dollars(job_cost(prices, R2V, seconds, video=False, sound=False)) == plain
    assert dollars(job_cost(prices, R2V, seconds, video=False, sound=True)) == sound
    assert dollars(job_cost(prices, R2V, seconds, video=True, sound=False)) == video
    # the reference video's multiplier overrides sound
    assert job_cost(prices, R2V, seconds, video=True, sound=True) == job_cost(prices, R2V, seconds, video=True, sound=False)


def test_exact_decimal_is_kept():
    assert job_cost(builtin_prices(), R2V, 3, video=False, sound=True) == Decimal("0.4032")
    assert str(job_cost(builtin_prices(), R2V, 5, video=False, sound=False)) == "0.56"


@pytest.mark.parametrize("seconds", sorted(OLDER))
def test_older_list_matches_the_seed_table_exactly(seconds):
    prices = load_price_list(EXAMPLES / "prices" / "wavespeed-2025-list.yaml", "p.yaml")
    assert prices.name == "wavespeed-2025-list" and str(prices.as_of) == "2025-06-01"
    expected = [Decimal(x) for x in OLDER[seconds]]
    got = [job_cost(prices, R2V, seconds, video=v, sound=s) for v, s in ((False, False), (False, True), (True, False))]
    assert got == expected


def test_unknown_model_is_unpriced():
    assert job_cost(builtin_prices(), "kwaivgi/kling-video-o3-pro/video-edit", 5, video=True, sound=False) is None
    assert dollars(None) == "unpriced"


def test_bad_price_list_reports_positions(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nas_of: someday\nmodels:\n  m: {per_second: cheap, multiplier: {}}\n")
    with pytest.raises(InvalidStoryboard) as info:
        load_price_list(path, "p.yaml")
    assert str(info.value).splitlines() == [
        'p.yaml:2:8: as_of: must be a date (YYYY-MM-DD), got "someday"',
        'p.yaml:4:19: models.m.per_second: must be a number, got "cheap"',
        "p.yaml:4:26: models.m.multiplier: unknown key; did you mean `multipliers`?",
    ]
