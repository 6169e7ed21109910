"""The command line: outputs, exit codes, no tracebacks."""

from __future__ import annotations

import json
import re
import subprocess
import sys


from conftest import EXAMPLES, ROOT

ANSI = re.compile(r"\x1b\[")


def test_plan_json_has_the_promised_fields(cli, lighthouse):
    result = cli("plan", str(lighthouse / "storyboard.yaml"), "--json")
    assert result.code == 0, result.err
    plan = json.loads(result.out)
    assert plan["total_cost"] == "4.7924"
    assert plan["price_list"] == {"as_of": "2026-02-06", "name": "wavespeed-current", "source": "built-in"}
    assert [j["shot"] for j in plan["jobs"]] == ["arrival", "storm", "boat", "rescue", "dawn", "credits"]
    for job in plan["jobs"]:
        assert re.fullmatch(r"[0-9a-f]{64}", job["key"])
        assert isinstance(job["cost"], str) and job["source"]["file"] == "storyboard.yaml"
        assert {"shot", "key", "model", "request", "cost", "source"} <= set(job)
    storm = plan["jobs"][1]
    assert storm["source"] == {"file": "storyboard.yaml", "line": 43, "column": 5}
    assert storm["request"]["keep_original_sound"] is True and "sound" not in storm["request"]
    assert storm["request"]["video"].startswith("sha256:")
    arrival = plan["jobs"][0]["request"]
    assert arrival["multi_prompt"] == [
        {"prompt": "Wide: Old Tom reaches the lamp room", "duration": 4},
        {"prompt": "Close-up: Old Tom lights the lamp", "duration": 6},
    ]
    assert arrival["element_list"] == [{"element_id": "307212335131305"}]
    assert len(arrival["images"]) == 3


def test_plan_json_is_byte_identical_every_time(cli, lighthouse):
    first = cli("plan", str(lighthouse), "--json").out
    second = cli("plan", str(lighthouse), "--json").out
    assert first == second and first.endswith("}\n")


def test_plan_table_on_a_pipe_has_no_colour(cli, lighthouse):
    result = cli("plan", str(lighthouse))
    assert result.code == 0
    assert not ANSI.search(result.out)
    for word in ("arrival", "o3-pro/reference-to-video", "$1.120", "$4.792", "wavespeed-current"):
        assert word in result.out
    assert "253f06a8917c" in result.out  # the short key


def test_older_price_list_by_flag_and_by_storyboard(cli, lighthouse):
    prices = EXAMPLES / "prices" / "wavespeed-2025-list.yaml"
    by_flag = json.loads(cli("plan", str(lighthouse), "--json", "--prices", str(prices)).out)
    assert by_flag["price_list"]["name"] == "wavespeed-2025-list"
    assert by_flag["jobs"][0]["cost"] == "2.4"
    (lighthouse / "prices.yaml").write_bytes(prices.read_bytes())
    text = (lighthouse / "storyboard.yaml").read_text().replace("title:", "prices: prices.yaml\ntitle:")
    (lighthouse / "storyboard.yaml").write_text(text)
    by_file = json.loads(cli("plan", str(lighthouse), "--json").out)
    assert by_file["price_list"] == {"as_of": "2025-06-01", "name": "wavespeed-2025-list", "source": "prices.yaml"}
    assert by_file["total_cost"] == by_flag["total_cost"] == "7.92"


def test_preview_provider_is_free_and_keyed_apart(cli, lighthouse):
    real = json.loads(cli("plan", str(lighthouse), "--json").out)
    preview = json.loads(cli("plan", str(lighthouse), "--json", "--provider", "preview").out)
    assert preview["total_cost"] == "0" and preview["provider"] == "preview"
    assert {j["key"] for j in real["jobs"]}.isdisjoint(j["key"] for j in preview["jobs"])


def test_base_url_from_the_environment(cli, lighthouse, monkeypatch):
    real = json.loads(cli("plan", str(lighthouse), "--json").out)
    monkeypatch.setenv("WAVESPEED_BASE_URL", "http://127.0.0.1:8765")
    local = json.loads(cli("plan", str(lighthouse), "--json").out)
    assert local["origin"] == "http://127.0.0.1:8765"
    assert real["jobs"][0]["key"] != local["jobs"][0]["key"]
    monkeypatch.setenv("WAVESPEED_BASE_URL", "ftp://nope")
    result = cli("plan", str(lighthouse))
    assert result.code == 1 and "WAVESPEED_BASE_URL" in result.err and "Traceback" not in result.err


def test_validate_many_files(cli, lighthouse, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nshots: []\n")
    result = cli("validate", str(lighthouse), str(EXAMPLES / "minimal" / "storyboard.yaml"), str(bad))
    assert result.code == 1
    assert f"{lighthouse}/storyboard.yaml: ok: 6 shots, 2 characters, 35 s, $4.792" in result.out
    assert "minimal/storyboard.yaml: ok: 1 shot" in result.out
    assert f"{bad}:2:8: shots: must not be empty" in result.err


def test_exit_codes(cli, tmp_path, monkeypatch):
    assert cli("plan", "--no-such-option").code == 2  # usage (PATH itself is optional: the project here)
    assert cli("plan", str(tmp_path / "missing.yaml")).code == 1
    assert cli("plan", str(tmp_path / "missing.yaml")).err == f"error: {tmp_path / 'missing.yaml'}: no such file\n"

    import storyboard.plan.project

    def boom(*a, **k):
        raise RuntimeError("a bug")

    monkeypatch.setattr(storyboard.plan.project, "compile_project", boom)
    result = cli("plan", "x")
    assert result.code == 3 and "internal error" in result.err and "Traceback" not in result.err
    assert "Traceback" in cli("--debug", "plan", "x").err

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(storyboard.plan.project, "compile_project", interrupt)
    assert cli("plan", "x").code == 130


def test_strict_turns_warnings_into_errors(cli, project):
    path = project("version: 1\nshots:\n  - id: a\n    prompt: x\n    keep_original_sound: true\n")
    assert cli("validate", str(path)).code == 0
    strict = cli("validate", "--strict", str(path))
    assert strict.code == 1 and "warning: shots[0].keep_original_sound" in strict.err


def test_schema_prints_the_storyboard_schema(cli):
    result = cli("schema")
    schema = json.loads(result.out)
    assert schema["title"] == "Storyboard" and "shots" in schema["properties"]


def test_python_dash_m_works(lighthouse):
    result = subprocess.run(
        [sys.executable, "-m", "storyboard", "validate", str(lighthouse)], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{lighthouse}/storyboard.yaml: ok")
