"""The command line as git users expect it (issue 25, item 16)."""

from __future__ import annotations

import json

from conftest import DATA


def test_no_command_lists_the_commands(cli):
    result = cli()
    assert result.code == 2
    for name in ("validate", "plan", "render", "status", "diff", "pull", "push"):
        assert f"\n    {name} " in result.out
    assert "the following arguments are required" not in result.err


def test_a_bad_option_prints_that_commands_usage(cli):
    result = cli("validate", "--bogus")
    assert result.code == 2
    assert result.err.startswith("usage: storyboard validate ") and "unrecognized arguments: --bogus" in result.err
    nested = cli("cache", "verify", "--nope")
    assert nested.code == 2 and nested.err.startswith("usage: storyboard cache verify ")
    assert "COMMAND ..." not in result.err + nested.err


def test_validate_json_gives_every_file_with_positions_and_codes(cli, monkeypatch, tmp_path):
    for name in ("53-warning-only.yaml", "28-unknown-character.yaml"):  # a copy: validating writes a media memo
        (tmp_path / name).write_bytes((DATA / "invalid" / name).read_bytes())
    monkeypatch.chdir(tmp_path)
    result = cli("validate", "--json", "53-warning-only.yaml", "28-unknown-character.yaml")
    assert result.code == 1
    data = json.loads(result.out)
    good, bad = data["files"]
    assert good["ok"] and good["cost"] == "0.560" and good["diagnostics"][0]["code"] == "W002"
    assert not bad["ok"] and bad["diagnostics"][0]["line"] == 7 and bad["diagnostics"][0]["severity"] == "error"
    assert (data["errors"], data["warnings"]) == (1, 1)
    assert cli("validate", "--json", "53-warning-only.yaml").code == 0


def test_render_json_ends_with_a_summary(project, cli):
    path = project("version: 1\nshots:\n  - id: a\n    prompt: A quiet harbour.\n  - id: b\n    prompt: Gulls.\n")
    result = cli("render", str(path), "--provider", "preview", "--no-stitch", "--json", "--cache",
                 str(path.parent / "cache"))
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["shots"] == 2 and data["rendered"] == 2 and data["spent"] == "0.000"
    assert data["failed"] == [] and data["not_started"] == [] and data["film"] is None
    again = json.loads(cli("render", str(path), "--provider", "preview", "--no-stitch", "--json", "--cache",
                           str(path.parent / "cache")).out)
    assert again["cached"] == 2 and again["rendered"] == 0
