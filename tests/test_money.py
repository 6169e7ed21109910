"""Money reads one way everywhere: three decimals in text, fixed-precision strings in JSON (issue 25, item 20)."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from hypothesis import given, settings, strategies as st

from storyboard.plan.prices import dollars, fixed

TWO = "version: 1\nshots:\n  - id: a\n    prompt: A quiet harbour.\n  - id: b\n    prompt: Gulls over the pier.\n"
MONEY = re.compile(r"\$\d[\d,]*(\.\d+)?")


def sides(tmp_path, old: str, new: str):
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    (tmp_path / "old" / "storyboard.yaml").write_text(old)
    (tmp_path / "new" / "storyboard.yaml").write_text(new)
    return str(tmp_path / "old" / "storyboard.yaml"), str(tmp_path / "new" / "storyboard.yaml")


def test_diff_prints_every_amount_to_a_tenth_of_a_cent(tmp_path, cli):
    old, new = sides(tmp_path, TWO, TWO.replace("Gulls over", "Crows over") + "  - id: c\n    prompt: Rain.\n")
    for fmt in ("text", "markdown"):
        out = cli("diff", old, new, "--format", fmt).out
        amounts = [m.group(0) for m in MONEY.finditer(out)]
        assert amounts and all(re.fullmatch(r"\$\d+\.\d{3}", a) for a in amounts), (fmt, amounts)
        assert "+ shot c: to render, $0.560" in out or "| $0.560 |" in out


def test_diff_and_status_json_give_money_as_fixed_strings(tmp_path, cli):
    old, new = sides(tmp_path, TWO, TWO.replace("Gulls over", "Crows over"))
    data = json.loads(cli("diff", old, new, "--format", "json").out)
    assert data["summary"]["rerender_cost"] == "0.560" and data["summary"]["old_total"] == "1.120"
    assert [s["cost"] for s in data["shots"]] == ["0.000", "0.560"]
    status = json.loads(cli("status", new, "--json").out)
    assert status["cost"] == "1.120" and status["repay_cost"] == "0.000"
    assert {s["cost"] for s in status["shots"]} == {"0.560"}


@settings(max_examples=200, deadline=1000)
@given(st.decimals(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False, places=6))
def test_fixed_has_three_decimals_and_dollars_is_its_text(amount):
    text = fixed(amount)
    assert re.fullmatch(r"\d+\.\d{3}", text) and abs(Decimal(text) - amount) <= Decimal("0.0005")
    assert dollars(amount) == "$" + text
